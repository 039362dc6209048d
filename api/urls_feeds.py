"""Feed management and the single-visit .ics under /api/v1/; the feeds themselves are in api/feeds/urls.py."""

from django.urls import path

from api.feeds import manage as views

urlpatterns = [
    path("me/feed", views.MyFeedApi.as_view(), name="my-feed"),
    path("me/feed/rotate", views.MyFeedRotateApi.as_view(), name="my-feed-rotate"),
    path("therapists/<int:pk>/feed", views.TherapistFeedManageApi.as_view(), name="therapist-feed"),
    path("therapists/<int:pk>/feed/rotate", views.TherapistFeedRotateApi.as_view(), name="therapist-feed-rotate"),
    path("facilities/<int:pk>/feed", views.FacilityFeedManageApi.as_view(), name="facility-feed"),
    path("facilities/<int:pk>/feed/rotate", views.FacilityFeedRotateApi.as_view(), name="facility-feed-rotate"),
    path("visits/<int:pk>.ics", views.VisitIcsApi.as_view(), name="visit-ics"),
]
