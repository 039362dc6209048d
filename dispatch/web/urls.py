from django.contrib.auth import views as auth_views
from django.urls import path
from django.views.generic import RedirectView

from dispatch.web import views

urlpatterns = [
    path("", RedirectView.as_view(url="/board/", permanent=False)),
    path("board/", views.board, name="board"),
    path("board/data", views.board_data, name="board-data"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(next_page="/accounts/login/"), name="logout"),
]
