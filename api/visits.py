"""Visits: requests, changes, status transitions, manual assignment and weekly series."""
from __future__ import annotations

import datetime as dt

from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import PermissionDenied
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from api.fields import LocalTimeField, PlanningDateField, PlanningDateTimeField, ScopedPrimaryKeyRelatedField
from api.idempotency import IDEMPOTENCY_KEY_PARAMETER, idempotent
from api.inputs import STATUS_ELSEWHERE, InputSerializer, without_unchanged_echoes
from api.permissions import ANY_ROLE, COORDINATOR, STAFF, RoleAllowed, role_of
from api.records import ContraindicationSerializer, SelectorFilterBackend, contraindications_for, skill_codes
from dispatch.models import (
    MAX_DURATION_MIN,
    MIN_DURATION_MIN,
    Patient,
    Priority,
    Role,
    Therapist,
    Visit,
    VisitSeries,
    VisitStatus,
)
from dispatch.selectors import filters, lists, scoping
from dispatch.services.booking import visit_book
from dispatch.services.visit_actions import visit_check_in, visit_check_out, visit_mark_no_show
from dispatch.services.visit_status import visit_transition
from dispatch.services.visits import (
    MAX_WINDOWS,
    WINDOW_ORDER,
    visit_request_create,
    visit_series_create,
    visit_update,
)

# status is no one's to set by PATCH: the serializer names the routes that change it.
COORDINATOR_ONLY_FIELDS = ("therapist", "planned_start", "pinned")
ASSIGNED_ELSEWHERE = "A request has no therapist or time yet: a coordinator sets {field} through /assign or a plan."
FIELDS_FOR_COORDINATORS = "Only dispatch coordinators may set {fields}."
TRANSITION_NOT_YOURS = "As {role} you may not mark a visit {target}."
STAFF_CHANGE_ONLY_REQUESTED = "Facility staff may change a visit only while it is still a request; ask the coordinator."
STAFF_CANCEL_ONLY_REQUESTED = "Facility staff may cancel a visit only while it is still a request."
DATE_PASSED = "{day} has passed in {tz}; a visit can be requested for today or later."
WINDOWS_PASSED = (
    "It is {now} in {tz}: no window leaves room for the {duration}-minute session any more; "
    "give a window still to come."
)
# What each role may move a visit to through /transition; coordinators may use every allowed transition.
TARGETS_BY_ROLE = {
    Role.THERAPIST: frozenset(
        {VisitStatus.CONFIRMED, VisitStatus.IN_PROGRESS, VisitStatus.COMPLETED, VisitStatus.NO_SHOW}
    ),
    Role.FACILITY_STAFF: frozenset({VisitStatus.CANCELLED}),
}


class WindowSerializer(InputSerializer):
    start = PlanningDateTimeField(help_text="ISO 8601 with an offset, e.g. 2025-03-02T09:00:00-05:00.")
    end = PlanningDateTimeField()

    def validate(self, attrs: dict) -> dict:
        if attrs["end"] <= attrs["start"]:
            raise serializers.ValidationError({"end": [WINDOW_ORDER]})
        return attrs


def not_past_for_staff(serializer: serializers.Serializer, day: dt.date) -> dt.date:
    """Facility staff request visits to come; coordinators may record one after the fact."""
    user = serializer.context["request"].user
    if role_of(user) == Role.FACILITY_STAFF and day < timezone.localdate(timezone=user.organization.tz):
        raise serializers.ValidationError(DATE_PASSED.format(day=day, tz=user.organization.timezone))
    return day


def windows_not_past_for_staff(user, *, windows: list[dict], duration_min: int) -> None:
    """Today's request whose every window is over (the request page's default 09:00-12:00 sent in the evening)
    could never be served, like one for a past day; coordinators may still record one after the fact."""
    if role_of(user) != Role.FACILITY_STAFF or not windows:
        return
    now, session = timezone.now(), dt.timedelta(minutes=duration_min)
    # Only the clock's doing: a window too short for the session anyway gets the service's own message.
    if all(now + session > w["end"] for w in windows):
        tz = user.organization.tz
        raise serializers.ValidationError({"windows": [WINDOWS_PASSED.format(
            now=now.astimezone(tz).strftime("%H:%M on %Y-%m-%d"), tz=tz.key, duration=duration_min
        )]})


def windows_field(**kwargs) -> WindowSerializer:
    return WindowSerializer(many=True, allow_empty=False, max_length=MAX_WINDOWS, **kwargs)


def duration_field(**kwargs) -> serializers.IntegerField:
    return serializers.IntegerField(min_value=MIN_DURATION_MIN, max_value=MAX_DURATION_MIN, **kwargs)


def buffer_field() -> serializers.IntegerField:
    return serializers.IntegerField(
        min_value=0, max_value=60, required=False, allow_null=True, help_text="Blank: the care setting's default."
    )


class VisitRequestInputSerializer(InputSerializer):
    elsewhere = {"status": STATUS_ELSEWHERE} | {
        field: ASSIGNED_ELSEWHERE.format(field=field) for field in COORDINATOR_ONLY_FIELDS
    }

    patient = ScopedPrimaryKeyRelatedField(scope=scoping.patients_visible_to, model=Patient)
    date = PlanningDateField(help_text="The visit's local day in the organisation's time zone.")
    duration_min = duration_field()
    windows = windows_field(help_text=f"1 to {MAX_WINDOWS} windows, none overlapping, each as long as the session.")
    required_skills = skill_codes(required=False, help_text="Skill codes.")
    priority = serializers.ChoiceField(choices=Priority.choices, default=Priority.ROUTINE)
    buffer_min = buffer_field()
    instructions = serializers.CharField(max_length=500, required=False, allow_blank=True)

    def validate_date(self, value: dt.date) -> dt.date:
        return not_past_for_staff(self, value)

    def validate(self, attrs: dict) -> dict:
        windows_not_past_for_staff(
            self.context["request"].user, windows=attrs["windows"], duration_min=attrs["duration_min"]
        )
        return attrs


class VisitUpdateInputSerializer(InputSerializer):
    elsewhere = {"status": STATUS_ELSEWHERE}

    date = PlanningDateField(required=False)
    duration_min = duration_field(required=False)
    windows = windows_field(required=False, help_text="Replaces the windows.")
    required_skills = skill_codes(required=False)
    priority = serializers.ChoiceField(choices=Priority.choices, required=False)
    buffer_min = buffer_field()
    instructions = serializers.CharField(max_length=500, required=False, allow_blank=True)
    therapist = ScopedPrimaryKeyRelatedField(
        scope=scoping.therapists_visible_to, model=Therapist, required=False, allow_null=True,
        help_text="Coordinators only; null unassigns.",
    )
    planned_start = PlanningDateTimeField(required=False, help_text="Coordinators only.")
    pinned = serializers.BooleanField(required=False, help_text="Coordinators only.")

    def validate_date(self, value: dt.date) -> dt.date:
        return not_past_for_staff(self, value)


class VisitWindowOutputSerializer(serializers.Serializer):
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()


class VisitOutputSerializer(serializers.ModelSerializer):
    windows = VisitWindowOutputSerializer(many=True, read_only=True)
    required_skills = skill_codes(read_only=True)
    patient_initials = serializers.CharField(source="patient.initials", read_only=True)
    care_setting = serializers.CharField(read_only=True)
    effective_buffer_min = serializers.IntegerField(read_only=True)
    contraindicated = serializers.SerializerMethodField(help_text="An active contraindication on the visit's date.")
    contraindications = serializers.SerializerMethodField(
        help_text=(
            "Those active on the visit's date. Only coordinators and the staff of the facility the patient is "
            "at now read the note; others get the kind and dates."
        )
    )

    class Meta:
        model = Visit
        fields = [
            "id", "patient", "patient_initials", "facility", "care_setting", "location_text", "lat", "lon", "date",
            "duration_min", "windows", "required_skills", "priority", "buffer_min", "effective_buffer_min",
            "status", "status_reason", "therapist", "planned_start", "planned_end", "planned_busy_until",
            "planned_travel_min", "planned_travel_km", "pinned", "series", "instructions", "requested_by",
            "actual_start", "actual_end", "ended_early",
            "sequence", "contraindicated", "contraindications", "created_at", "updated_at",
        ]

    def _active(self, visit: Visit) -> list:
        return [c for c in visit.patient.contraindications.all() if c.active_on(visit.date)]

    def get_contraindicated(self, visit: Visit) -> bool:
        return bool(self._active(visit))

    @extend_schema_field(ContraindicationSerializer(many=True))
    def get_contraindications(self, visit: Visit) -> list[dict]:
        return contraindications_for(self.context, self._active(visit), patient=visit.patient)


def _context(request) -> dict:
    return {"request": request}


def visit_for(request, visit_id: int) -> Visit:
    return get_object_or_404(lists.visits_shown(user=request.user), pk=visit_id)


def visit_body(request, visit_id: int) -> dict:
    return VisitOutputSerializer(visit_for(request, visit_id), context=_context(request)).data


class VisitListCreateApi(ListAPIView):
    """GET: the visits you may see, filtered. POST: request a visit (coordinators, facility staff)."""

    permission_classes = [RoleAllowed]
    roles = {"get": ANY_ROLE, "post": STAFF}
    serializer_class = VisitOutputSerializer
    filter_backends = [SelectorFilterBackend]
    filterset_class = filters.VisitFilter
    queryset = Visit.objects.none()

    def get_queryset(self):
        return lists.visit_list(user=self.request.user, params=self.request.query_params)

    @extend_schema(
        request=VisitRequestInputSerializer, responses={201: VisitOutputSerializer},
        parameters=[IDEMPOTENCY_KEY_PARAMETER],
    )
    @idempotent
    def post(self, request) -> Response:
        serializer = VisitRequestInputSerializer(data=request.data, context=_context(request))
        serializer.is_valid(raise_exception=True)
        visit = visit_request_create(**serializer.validated_data, requested_by=request.user)
        return Response(visit_body(request, visit.pk), status=201)


class VisitDetailApi(APIView):
    permission_classes = [RoleAllowed]
    roles = {"get": ANY_ROLE, "patch": STAFF}

    @extend_schema(responses=VisitOutputSerializer)
    def get(self, request, pk: int) -> Response:
        return Response(visit_body(request, pk))

    @extend_schema(request=VisitUpdateInputSerializer, responses=VisitOutputSerializer)
    def patch(self, request, pk: int) -> Response:
        visit = visit_for(request, pk)
        data = without_unchanged_echoes(request.data, shown=visit_body(request, pk),
                                        serializer=VisitUpdateInputSerializer(context=_context(request)), partial=True)
        if role_of(request.user) != Role.COORDINATOR:
            forbidden = sorted(set(COORDINATOR_ONLY_FIELDS) & set(data))
            if forbidden:
                raise PermissionDenied(FIELDS_FOR_COORDINATORS.format(fields=", ".join(forbidden)))
            if visit.status != VisitStatus.REQUESTED:
                raise PermissionDenied(STAFF_CHANGE_ONLY_REQUESTED)
        serializer = VisitUpdateInputSerializer(data=data, partial=True, context=_context(request))
        serializer.is_valid(raise_exception=True)
        if "windows" in serializer.validated_data:
            windows_not_past_for_staff(
                request.user, windows=serializer.validated_data["windows"],
                duration_min=serializer.validated_data.get("duration_min", visit.duration_min),
            )
        visit = visit_update(visit=visit, by=request.user, **serializer.validated_data)
        return Response(visit_body(request, visit.pk))


class VisitTransitionApi(APIView):
    """Coordinators: any allowed change. Therapists: confirm, start, complete, no-show their own visits.
    Facility staff: cancel their own facility's request."""

    permission_classes = [RoleAllowed]
    roles = {"post": ANY_ROLE}

    class TransitionInputSerializer(InputSerializer):
        status = serializers.ChoiceField(choices=VisitStatus.choices)
        reason = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")

    @extend_schema(request=TransitionInputSerializer, responses=VisitOutputSerializer)
    def post(self, request, pk: int) -> Response:
        visit = visit_for(request, pk)
        serializer = self.TransitionInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        target, role = serializer.validated_data["status"], role_of(request.user)
        if role in TARGETS_BY_ROLE and target not in TARGETS_BY_ROLE[role]:
            raise PermissionDenied(TRANSITION_NOT_YOURS.format(role=Role(role).label.lower(), target=target))
        if role == Role.FACILITY_STAFF and visit.status != VisitStatus.REQUESTED:
            raise PermissionDenied(STAFF_CANCEL_ONLY_REQUESTED)
        if target == VisitStatus.IN_PROGRESS:  # the clock rules of check-in and check-out hold here too
            visit = visit_check_in(visit=visit, by=request.user).visit
        elif target == VisitStatus.COMPLETED:
            visit = visit_check_out(visit=visit, by=request.user).visit
        elif target == VisitStatus.NO_SHOW:
            visit = visit_mark_no_show(visit=visit, reason=serializer.validated_data["reason"], by=request.user)
        else:
            visit = visit_transition(visit=visit, target=target, reason=serializer.validated_data["reason"])
        return Response(visit_body(request, visit.pk))


class VisitAssignApi(APIView):
    """A coordinator gives a visit to a therapist; refusals list every reason (400), clashes are 409."""

    permission_classes = [RoleAllowed]
    roles = {"post": COORDINATOR}

    class AssignInputSerializer(InputSerializer):
        therapist = ScopedPrimaryKeyRelatedField(scope=scoping.therapists_visible_to, model=Therapist)
        planned_start = PlanningDateTimeField()
        pinned = serializers.BooleanField(default=False, help_text="Keep the optimiser from moving it.")

    @extend_schema(request=AssignInputSerializer, responses=VisitOutputSerializer)
    def post(self, request, pk: int) -> Response:
        visit = visit_for(request, pk)
        serializer = self.AssignInputSerializer(data=request.data, context=_context(request))
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        visit = visit_book(
            visit=visit,
            therapist=data["therapist"],
            planned_start=data["planned_start"],
            by=request.user,
            pin=data["pinned"],
        )
        return Response(visit_body(request, visit.pk))


TIME_IN_GAP = "{time} does not exist on {day} in {tz} (the clocks go forward); choose a time outside the change."


def _first_day_without(time: dt.time, *, attrs: dict, tz, next_day: bool = False) -> dt.date | None:
    """The first day of the series on which this wall-clock time is skipped by a daylight-saving change (an end at
    00:00 is the next day's midnight)."""
    day = attrs["starts_on"]
    while day <= attrs["ends_on"]:
        if day.weekday() in attrs["weekdays"]:
            on = day + dt.timedelta(days=1) if next_day and time == dt.time(0) else day
            local = dt.datetime.combine(on, time, tzinfo=tz)
            # A skipped time does not survive the round trip through UTC (zoneinfo moves it past the gap).
            if local.astimezone(dt.UTC).astimezone(tz).replace(tzinfo=None) != local.replace(tzinfo=None):
                return day
        day += dt.timedelta(days=1)
    return None


class VisitSeriesCreateApi(APIView):
    permission_classes = [RoleAllowed]
    roles = {"post": STAFF}

    class SeriesInputSerializer(InputSerializer):
        patient = ScopedPrimaryKeyRelatedField(scope=scoping.patients_visible_to, model=Patient)
        weekdays = serializers.ListField(
            child=serializers.IntegerField(min_value=0, max_value=6), allow_empty=False, max_length=7,
            help_text="Monday = 0.",
        )
        window_start = LocalTimeField()
        window_end = LocalTimeField()
        duration_min = duration_field()
        required_skills = skill_codes(required=False)
        priority = serializers.ChoiceField(choices=Priority.choices, default=Priority.ROUTINE)
        buffer_min = buffer_field()
        instructions = serializers.CharField(max_length=500, required=False, allow_blank=True)
        starts_on = PlanningDateField()
        ends_on = PlanningDateField()

        def validate_starts_on(self, value: dt.date) -> dt.date:
            return not_past_for_staff(self, value)

        def validate(self, attrs: dict) -> dict:
            until_midnight = attrs["window_end"] == dt.time(0) and attrs["window_start"] != dt.time(0)
            if attrs["window_end"] <= attrs["window_start"] and not until_midnight:
                raise serializers.ValidationError({"window_end": [WINDOW_ORDER]})
            if attrs["ends_on"] < attrs["starts_on"]:
                raise serializers.ValidationError({"ends_on": ["The series cannot end before it starts."]})
            tz = self.context["request"].user.organization.tz
            gaps = {
                name: [TIME_IN_GAP.format(time=f"{attrs[name]:%H:%M}", day=day, tz=tz.key)]
                for name in ("window_start", "window_end")
                if (day := _first_day_without(attrs[name], attrs=attrs, tz=tz, next_day=name == "window_end"))
            }
            if gaps:
                raise serializers.ValidationError(gaps)
            return attrs

    class SeriesOutputSerializer(serializers.ModelSerializer):
        required_skills = skill_codes(read_only=True)
        visits = VisitOutputSerializer(many=True, read_only=True)

        class Meta:
            model = VisitSeries
            fields = [
                "id", "patient", "weekdays", "window_start", "window_end", "duration_min", "priority",
                "required_skills", "starts_on", "ends_on", "created_at", "visits",
            ]

    @extend_schema(
        request=SeriesInputSerializer, responses={201: SeriesOutputSerializer}, parameters=[IDEMPOTENCY_KEY_PARAMETER]
    )
    @idempotent
    def post(self, request) -> Response:
        serializer = self.SeriesInputSerializer(data=request.data, context=_context(request))
        serializer.is_valid(raise_exception=True)
        series = visit_series_create(**serializer.validated_data, created_by=request.user)
        return Response(self.SeriesOutputSerializer(series, context=_context(request)).data, status=201)
