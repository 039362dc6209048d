from django.urls import path

from api.feeds import views

urlpatterns = [
    path("therapists/<str:token>.ics", views.TherapistFeedApi.as_view(), name="feed-therapist"),
    path("facilities/<str:token>.ics", views.FacilityFeedApi.as_view(), name="feed-facility"),
]
