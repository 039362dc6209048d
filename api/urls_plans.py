from django.urls import path

from api import plans as views

urlpatterns = [
    path("plans", views.PlanListCreateApi.as_view(), name="plan-list"),
    path("plans/<int:plan_id>", views.PlanDetailApi.as_view(), name="plan-detail"),
    path("plans/<int:plan_id>/apply", views.PlanApplyApi.as_view(), name="plan-apply"),
]
