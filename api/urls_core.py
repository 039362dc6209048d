"""Records, visits, the schedule, and who am I."""
from django.urls import path
from rest_framework.routers import SimpleRouter

from api import auth, records, schedule, visits

router = SimpleRouter(trailing_slash=False)
router.register("therapists", records.TherapistViewSet, basename="therapist")
router.register("facilities", records.FacilityViewSet, basename="facility")
router.register("patients", records.PatientViewSet, basename="patient")
router.register("availability/weekly", records.WeeklyAvailabilityViewSet, basename="weekly-availability")
router.register("availability/exceptions", records.AvailabilityExceptionViewSet, basename="availability-exception")
router.register("availability/breaks", records.TherapistBreakViewSet, basename="break")

urlpatterns = [
    path("auth/token", auth.AuthTokenCreateApi.as_view(), name="auth-token"),
    path("auth/tokens", auth.AuthTokenListApi.as_view(), name="auth-token-list"),
    path("auth/tokens/<str:token_id>", auth.AuthTokenRevokeApi.as_view(), name="auth-token-revoke"),
    path("me", schedule.MeApi.as_view(), name="me"),
    path("schedule", schedule.ScheduleApi.as_view(), name="schedule"),
    path("visits", visits.VisitListCreateApi.as_view(), name="visit-list"),
    path("visits/<int:pk>", visits.VisitDetailApi.as_view(), name="visit-detail"),
    path("visits/<int:pk>/transition", visits.VisitTransitionApi.as_view(), name="visit-transition"),
    path("visits/<int:pk>/assign", visits.VisitAssignApi.as_view(), name="visit-assign"),
    path("visit-series", visits.VisitSeriesCreateApi.as_view(), name="visit-series"),
    *router.urls,
]
