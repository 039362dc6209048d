"""The day's schedule per therapist, and who am I."""
from __future__ import annotations

from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from api.exception_handlers import non_atomic_exception_handler
from api.fields import PlanningDateField
from api.filtering import refuse_unknown_params
from api.permissions import ANY_ROLE, RoleAllowed, role_of
from dispatch.cache_versions import schedule_versions
from dispatch.models import Role
from dispatch.read_cache import PART_CACHE_S, cached_build, cached_stamped, day_parts, key_etag, revalidated
from dispatch.selectors import scoping
from dispatch.selectors.filters import MAX_ID
from dispatch.selectors.schedule import schedule_days, schedule_roster

SCHEDULE_CACHE_S = 300


class ScheduleVisitSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    planned_start = serializers.DateTimeField()
    planned_end = serializers.DateTimeField()
    planned_busy_until = serializers.DateTimeField()
    planned_travel_min = serializers.IntegerField(allow_null=True)
    planned_travel_km = serializers.FloatField(allow_null=True)
    duration_min = serializers.IntegerField()
    location_text = serializers.CharField()
    lat = serializers.FloatField()
    lon = serializers.FloatField()
    facility = serializers.IntegerField(source="facility_id", allow_null=True)
    patient_initials = serializers.CharField(source="patient.initials")
    care_setting = serializers.CharField()
    pinned = serializers.BooleanField()


class ShiftSerializer(serializers.Serializer):
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()


class TherapistDaySerializer(serializers.Serializer):
    therapist = serializers.IntegerField(source="therapist.pk")
    display_name = serializers.CharField(source="therapist.display_name")
    shifts = ShiftSerializer(many=True)
    visits = ScheduleVisitSerializer(many=True)


class ScheduleApi(APIView):
    """Coordinators: every therapist of the organisation; therapists: themselves."""

    permission_classes = [RoleAllowed]
    roles = {"get": ANY_ROLE - {Role.FACILITY_STAFF}}

    @classmethod
    def as_view(cls, **initkwargs):
        # A read, reloaded all day by every dispatch office and served from the cache: no transaction, whose BEGIN
        # and COMMIT were two of its round trips to the database (knox renews a token's expiry at most hourly, in
        # one UPDATE of its own).
        return transaction.non_atomic_requests(super().as_view(**initkwargs))

    def get_exception_handler(self):
        return non_atomic_exception_handler

    class FilterSerializer(serializers.Serializer):
        date = PlanningDateField()
        therapist = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID)

    @extend_schema(parameters=[FilterSerializer], responses={200: TherapistDaySerializer(many=True), 304: None})
    def get(self, request) -> Response:
        refuse_unknown_params(request, known=set(self.FilterSerializer().fields))
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        therapist_id = filters.validated_data.get("therapist")
        if therapist_id is not None:
            get_object_or_404(scoping.therapists_visible_to(request.user), pk=therapist_id)
        day = filters.validated_data["date"]
        # A dispatch office reloads the same day all day long; it is served from the cache until anything on it
        # changes (the organisation's version, or the day's: every save of a visit on it).
        org = request.user.organization_id
        org_version, day_version = schedule_versions(organization_id=org, day=day)
        scope = request.user.pk if role_of(request.user) == Role.THERAPIST else "all"
        key = f"schedule:{org}:{org_version}.{day_version}:{scope}:{day}:{therapist_id}"
        # A client that kept the ETag it last got is told "unchanged" without the body being read (850 kB for a
        # 500-therapist day).
        etag = key_etag(key)
        if (not_modified := revalidated(request, etag)) is not None:
            return not_modified
        body = cached_build(key=key, timeout=SCHEDULE_CACHE_S, build=lambda: self._assemble(
            request.user, day=day, therapist_id=therapist_id, scope=scope, org_version=org_version
        ))
        response = HttpResponse(body, content_type="application/json")
        response["ETag"], response["Cache-Control"] = etag, "private, no-cache"
        return response

    @staticmethod
    def _assemble(user, *, day, therapist_id, scope, org_version: int) -> bytes:
        """The day as the list of its therapists' parts, each kept rendered (a large agency's day is a megabyte of
        JSON, too costly to render again on every change): a check-in renders its therapist's part only."""
        org = user.organization_id
        roster = cached_stamped(
            key=f"schedule-roster:{org}:{scope}:{therapist_id}", stamp=org_version, timeout=PART_CACHE_S,
            build=lambda: schedule_roster(user=user, therapist_id=therapist_id),
        )

        def build(therapist_ids: list[int]) -> dict[int, bytes]:
            days = schedule_days(user=user, day=day, therapist_ids=therapist_ids)
            renderer = JSONRenderer()
            return {pk: renderer.render(TherapistDaySerializer(d).data) if d else b"" for pk, d in days.items()}

        parts = day_parts(kind="schedule", organization_id=org, org_version=org_version, day=day, parts=roster,
                          build=build)
        # The bytes JSONRenderer gives the whole list (compact: no space after the commas).
        return b"[" + b",".join(part for part in parts if part) + b"]"


class MeApi(APIView):
    permission_classes = [IsAuthenticated]

    class MeOutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        username = serializers.CharField()
        email = serializers.CharField()
        first_name = serializers.CharField()
        last_name = serializers.CharField()
        role = serializers.CharField(allow_null=True)
        organization = serializers.IntegerField(source="organization_id", allow_null=True)
        organization_name = serializers.CharField(source="organization.name", default=None)
        timezone = serializers.CharField(source="organization.timezone", default=None)
        therapist = serializers.SerializerMethodField()
        facility = serializers.IntegerField(source="facility_id", allow_null=True)

        def get_therapist(self, user) -> int | None:
            therapist = getattr(user, "therapist", None)
            return therapist.pk if therapist is not None else None

    @extend_schema(responses=MeOutputSerializer)
    def get(self, request) -> Response:
        user = request.user
        data = self.MeOutputSerializer(user).data
        data["role"] = role_of(user)
        return Response(data)

