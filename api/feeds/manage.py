"""Feed URLs for their owners and coordinators, and the single-visit .ics download."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from api.feeds.http import calendar_response
from api.feeds.renderers import CalendarOnlyNegotiation, ICalendarRenderer
from api.permissions import IsCoordinator, role_of
from dispatch.exceptions import ConflictError
from dispatch.feeds import Audience, calendar_build
from dispatch.models import Facility, FeedToken, Role, Therapist, Visit
from dispatch.selectors.feeds import feed_staff_token_count, feed_token_active
from dispatch.selectors.scoping import visits_visible_to
from dispatch.services.feed_tokens import feed_owner_of_user, feed_token_revoke, feed_token_rotate, feed_urls

URL_SHOWN_ONCE = (
    "Only a SHA-256 of the secret in a feed URL is stored, so the URL (https and webcal://) is in the answer "
    "only when it is made. "
)
MY_FEED_GET = URL_SHOWN_ONCE + (
    "The first GET makes the URL and returns it; later GETs say whether a feed is active and since when, "
    "without the URL. To see a URL again (lost, or shared by mistake), rotate: the old URL then answers 404. "
    "Therapists get their own visits. Facility staff get their facility's visits through a URL of their own, "
    "so rotating it touches no colleague's calendar, and it stops working when they leave or move facility. "
    "Coordinators have no feed of their own (403) and manage others' under /therapists/{id}/feed and "
    "/facilities/{id}/feed."
)
ROTATE = URL_SHOWN_ONCE + "Rotating makes a new URL and revokes the previous one, whose URL then answers 404."
MANAGED_GET = (
    "Whether the feed's URL is active and since when; never the URL (rotate to get one). For a facility: its "
    "shared URL, and how many staff members hold a URL of their own. Coordinators only."
)
MANAGED_ROTATE = ROTATE + " For a facility this is its shared URL (say, a ward's screen); staff URLs stay."
MANAGED_DELETE = (
    "Revokes the feed: its URLs answer 404 from now on (for a facility, the shared one and every staff "
    "member's). Rotate to make a new one. Coordinators only."
)
VISIT_ICS = (
    "One visit as a single-event iCalendar file, for whoever may see the visit (its organisation's coordinators, "
    "its therapist, its facility's staff; anyone else 404). Like the feeds it carries the time, the place, the "
    "patient's initials, the kind of visit and a link to it in Rounds: never precautions, access notes, "
    "instructions or anything clinical. "
    "409 while the visit is an unscheduled request."
)
NO_FEED_FOR_ROLE = "Only therapists and facility staff have a calendar feed of their own."
VISIT_NOT_SCHEDULED = "Visit {visit} has no planned time yet, so it has no calendar entry."


class FeedOutputSerializer(serializers.Serializer):
    active = serializers.BooleanField()
    created_at = serializers.DateTimeField(allow_null=True)
    url = serializers.CharField(
        required=False,
        help_text="The feed's address on this server (https in production, as ROUNDS_PUBLIC_URL says); shown once.",
    )
    webcal_url = serializers.CharField(required=False, help_text="The same feed for calendar apps (webcal://).")
    staff_feeds_active = serializers.IntegerField(required=False, help_text="Facilities only.")


def _fresh(owner: dict, status: int = 201) -> Response:
    feed_token, token = feed_token_rotate(**owner)
    urls = feed_urls(feed_token=feed_token, token=token)
    data = {
        "active": True,
        "created_at": feed_token.created_at,
        "url": urls.url,
        "webcal_url": urls.webcal_url,
    }
    return Response(FeedOutputSerializer(data).data, status=status)


def _existing(feed_token: FeedToken | None, **extra) -> Response:
    data = {"active": feed_token is not None, "created_at": feed_token.created_at if feed_token else None, **extra}
    return Response(FeedOutputSerializer(data).data)


def _own_feed_owner(user) -> dict:
    owner = feed_owner_of_user(user) if role_of(user) else None
    if owner is None:
        raise PermissionDenied(NO_FEED_FOR_ROLE)
    return owner


class MyFeedApi(APIView):
    """GET makes a feed URL when there is none (the only time it can be shown); else says one is active."""

    @extend_schema(responses=FeedOutputSerializer, description=MY_FEED_GET)
    def get(self, request):
        owner = _own_feed_owner(request.user)
        active = feed_token_active(**owner)
        if active is None:
            return _fresh(owner, status=200)
        return _existing(active)


class MyFeedRotateApi(APIView):
    @extend_schema(request=None, responses={201: FeedOutputSerializer}, description=ROTATE)
    def post(self, request):
        return _fresh(_own_feed_owner(request.user))


class _ManagedFeedMixin:
    permission_classes = [IsAuthenticated, IsCoordinator]
    model: type[Therapist] | type[Facility]
    owner_field: str

    def owner(self, request, pk: int) -> dict:
        obj = get_object_or_404(self.model, pk=pk, organization_id=request.user.organization_id)
        return {self.owner_field: obj}


class _ManagedFeedApi(_ManagedFeedMixin, APIView):
    @extend_schema(responses=FeedOutputSerializer, description=MANAGED_GET)
    def get(self, request, pk: int):
        owner = self.owner(request, pk)
        extra = {"staff_feeds_active": feed_staff_token_count(**owner)} if "facility" in owner else {}
        return _existing(feed_token_active(**owner), **extra)

    @extend_schema(request=None, responses={204: None}, description=MANAGED_DELETE)
    def delete(self, request, pk: int):
        feed_token_revoke(**self.owner(request, pk), every_user=True)
        return Response(status=204)


class _ManagedFeedRotateApi(_ManagedFeedMixin, APIView):
    @extend_schema(request=None, responses={201: FeedOutputSerializer}, description=MANAGED_ROTATE)
    def post(self, request, pk: int):
        return _fresh(self.owner(request, pk))


class TherapistFeedManageApi(_ManagedFeedApi):
    model, owner_field = Therapist, "therapist"


class TherapistFeedRotateApi(_ManagedFeedRotateApi):
    model, owner_field = Therapist, "therapist"


class FacilityFeedManageApi(_ManagedFeedApi):
    model, owner_field = Facility, "facility"


class FacilityFeedRotateApi(_ManagedFeedRotateApi):
    model, owner_field = Facility, "facility"


def _visit_visible_to(user, visit_id: int) -> Visit:
    visits = visits_visible_to(user).select_related("organization", "patient", "facility", "therapist")
    return get_object_or_404(visits, pk=visit_id)


class VisitIcsApi(APIView):
    renderer_classes = [ICalendarRenderer]
    content_negotiation_class = CalendarOnlyNegotiation

    @extend_schema(
        responses={(200, "text/calendar"): OpenApiTypes.STR, 304: None, 404: None, 409: None}, description=VISIT_ICS
    )
    def get(self, request, pk: int):
        visit = _visit_visible_to(request.user, pk)
        if visit.planned_start is None:
            raise ConflictError(VISIT_NOT_SCHEDULED.format(visit=visit.pk))
        audience = Audience.FACILITY if role_of(request.user) == Role.FACILITY_STAFF else Audience.THERAPIST
        calendar = calendar_build(
            organization=visit.organization,
            name=f"Rounds — visit {visit.pk}",
            visits=[visit],
            audience=audience,
            travel=False,
            now=timezone.now(),
        )
        return calendar_response(
            request, calendar, filename=f"rounds-visit-{visit.pk}.ics", last_modified=visit.updated_at
        )
