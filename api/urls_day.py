"""The dispatch day: therapist and coordinator actions, re-plans, suggested buffers."""
from django.urls import path

from api import dispatch_day as views

urlpatterns = [
    path("visits/<int:visit_id>/check-in", views.VisitCheckInApi.as_view(), name="visit-check-in"),
    path("visits/<int:visit_id>/check-out", views.VisitCheckOutApi.as_view(), name="visit-check-out"),
    path("visits/<int:visit_id>/late", views.VisitLateApi.as_view(), name="visit-late"),
    path("visits/<int:visit_id>/interruption", views.VisitInterruptionApi.as_view(), name="visit-interruption"),
    path("visits/<int:visit_id>/cancel", views.VisitCancelApi.as_view(), name="visit-cancel"),
    path("visits/<int:visit_id>/no-show", views.VisitNoShowApi.as_view(), name="visit-no-show"),
    path("visits/<int:visit_id>/pin", views.VisitPinApi.as_view(), name="visit-pin"),
    path("visits/<int:visit_id>/unpin", views.VisitUnpinApi.as_view(), name="visit-unpin"),
    path("buffers/suggested", views.BufferSuggestionListApi.as_view(), name="buffer-suggestions"),
    path("replan", views.ReplanCreateApi.as_view(), name="replan"),
    path("therapists/<int:therapist_id>/off", views.TherapistOffApi.as_view(), name="therapist-off"),
    path("plans/<int:plan_id>/diff", views.PlanDiffApi.as_view(), name="plan-diff"),
    path("visits/<int:pk>/history", views.VisitHistoryApi.as_view(), name="visit-history"),
    path("patients/<int:pk>/history", views.PatientHistoryApi.as_view(), name="patient-history"),
]
