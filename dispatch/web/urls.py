from django.contrib.auth import views as auth_views
from django.urls import path

from dispatch.web import facility, phone, views

urlpatterns = [
    path("", views.home, name="home"),
    path("board/", views.board, name="board"),
    path("board/data", views.board_data, name="board-data"),
    path("board/live", views.board_live_data, name="board-live"),
    path("board/plans/<int:plan_id>/preview", views.board_plan_preview, name="board-plan-preview"),
    path("app/", phone.app, name="app"),
    path("app/data", phone.app_data, name="app-data"),
    path("app/sw.js", phone.service_worker, name="app-service-worker"),
    path("app/manifest.webmanifest", phone.manifest, name="app-manifest"),
    path("calendar/", phone.calendar, name="calendar"),
    path("facility/", facility.facility, name="facility"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(next_page="/accounts/login/"), name="logout"),
]
