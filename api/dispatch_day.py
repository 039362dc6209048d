"""The dispatch day: what therapists and coordinators do to visits while the day runs."""
from __future__ import annotations

import datetime as dt

from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import extend_schema, extend_schema_field, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from api.fields import PlanningDateField, PlanningDateTimeField
from api.idempotency import IDEMPOTENCY_KEY_PARAMETER, idempotent
from api.inputs import InputSerializer
from api.permissions import IsCoordinator, role_of
from api.plans import AffectedSerializer, affected_of
from api.visits import STAFF_CANCEL_ONLY_REQUESTED, VisitOutputSerializer, visit_body
from dispatch.models import PlanKind, PlanRun, Role, Therapist, Visit, VisitStatus
from dispatch.selectors.buffers import BUFFER_MIN_SAMPLES, BUFFER_PERCENTILE, buffer_suggestion_list
from dispatch.selectors.filters import MAX_ID
from dispatch.selectors.history import history_list
from dispatch.selectors.scoping import patients_visible_to, therapists_visible_to, visits_visible_to
from dispatch.services import visit_actions as actions
from dispatch.services.availability import therapist_mark_off
from dispatch.services.replan import replan_after_called_off, replan_latest, replan_propose


REPLAN_DAY_PASSED = "{day} has passed in {tz}; a re-plan changes what is still to come, today or a later day."
POSITION_HALF = "Give lat and lon together (or neither); {given} alone is not a position."


def visit_for_actor(*, user, visit_id: int, staff_may_cancel: bool = False) -> Visit:
    """Coordinators reach every visit of their organisation, therapists only their own; others get 404. With
    ``staff_may_cancel``, facility staff reach their own facility's too, and call off only a request (403 once it
    is booked: the coordinator has a therapist to tell), as through /transition."""
    role = role_of(user)
    if role == Role.FACILITY_STAFF and staff_may_cancel:
        visit = get_object_or_404(visits_visible_to(user), pk=visit_id)
        if visit.status != VisitStatus.REQUESTED:
            raise PermissionDenied(STAFF_CANCEL_ONLY_REQUESTED)
        return visit
    if role not in (Role.COORDINATOR, Role.THERAPIST):
        raise Http404
    return get_object_or_404(visits_visible_to(user), pk=visit_id)



class ReplanOutputSerializer(serializers.ModelSerializer):
    diff = serializers.SerializerMethodField()
    solve_time_s = serializers.SerializerMethodField()
    affected = serializers.SerializerMethodField(help_text="Therapists and facilities the proposal changes.")
    would_unbook = serializers.SerializerMethodField(
        help_text="Booked visits applying would unbook (count, visit_ids); apply refuses them without drop_booked."
    )

    class Meta:
        model = PlanRun
        fields = [
            "id", "kind", "date", "status", "error", "parameters", "created_at", "applied_at", "solve_time_s",
            "diff", "affected", "would_unbook",
        ]

    @extend_schema_field(serializers.DictField(allow_null=True))
    def get_diff(self, run: PlanRun) -> dict | None:
        return (run.result or {}).get("diff")

    @extend_schema_field(AffectedSerializer(allow_null=True))
    def get_affected(self, run: PlanRun) -> dict | None:
        return affected_of(run)

    @extend_schema_field(serializers.DictField(allow_null=True))
    def get_would_unbook(self, run: PlanRun) -> dict | None:
        return (run.result or {}).get("would_unbook")

    def get_solve_time_s(self, run: PlanRun) -> float | None:
        return ((run.result or {}).get("solution") or {}).get("solve_time_s")


class VisitActionOutputSerializer(serializers.Serializer):
    visit = VisitOutputSerializer(help_text="The visit after the action, exactly as GET /api/v1/visits/{id} shows it to you.")
    distance_m = serializers.FloatField(required=False, allow_null=True, help_text="check-in only")
    warning = serializers.CharField(
        required=False, allow_null=True, help_text="check-in: far from the place; check-out: ended early"
    )
    replan = ReplanOutputSerializer(
        required=False, allow_null=True,
        help_text="late, interruption, a cancel or no-show of a visit booked today: the re-plan proposal it triggered",
    )
    pushed = VisitOutputSerializer(
        many=True, required=False, help_text="interruption only: the visits moved later, each as GET shows it"
    )
    repeated = serializers.BooleanField(
        required=False,
        help_text="interruption only: the same report by the same person within 90 s, taken as a resend and not "
        "recorded again (detail says when the first was)",
    )
    detail = serializers.CharField(required=False, help_text="interruption resent: what happened to it")


class VisitDayActionApi(APIView):
    """One action on one visit: input serializer, one service, the visit back."""

    permission_classes = [IsAuthenticated]

    class InputSerializer(InputSerializer):
        pass

    def __init_subclass__(cls, **kwargs) -> None:
        # Each action documents its own input; a fresh function per subclass keeps the
        # schema annotation (set on the function object) from leaking between actions.
        super().__init_subclass__(**kwargs)

        # A phone that resends after a timeout cannot tell whether the first one landed: with a key the
        # retry gets the first answer, where a second interruption or late report would count twice.
        @idempotent
        def post(self, request, visit_id: int) -> Response:
            return VisitDayActionApi.post(self, request, visit_id)

        # Named after the action, so the schema's components do not collide.
        request = type(f"{cls.__name__.removesuffix('Api')}Input", (cls.InputSerializer,), {})
        cls.post = extend_schema(
            request=request, responses=VisitActionOutputSerializer, parameters=[IDEMPOTENCY_KEY_PARAMETER]
        )(post)

    def act(self, *, visit: Visit, user, data: dict) -> dict:
        raise NotImplementedError

    def shown(self, visit: Visit) -> dict:
        """Integrators read a visit one way: the body GET /api/v1/visits/{id} gives this user."""
        return visit_body(self.request, visit.pk)

    staff_may_cancel = False

    def post(self, request, visit_id: int) -> Response:
        visit = visit_for_actor(user=request.user, visit_id=visit_id, staff_may_cancel=self.staff_may_cancel)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response(self.act(visit=visit, user=request.user, data=serializer.validated_data))


class VisitCheckInApi(VisitDayActionApi):
    class InputSerializer(InputSerializer):
        at = PlanningDateTimeField(required=False)
        lat = serializers.FloatField(required=False, min_value=-90, max_value=90)
        lon = serializers.FloatField(required=False, min_value=-180, max_value=180)

        def validate(self, attrs: dict) -> dict:
            # Half a position cannot be checked against the visit's place; dropped, the far-away check would
            # silently not run while the phone believed it had sent where it was.
            if ("lat" in attrs) != ("lon" in attrs):
                missing = "lon" if "lat" in attrs else "lat"
                raise serializers.ValidationError({missing: [POSITION_HALF.format(given=({"lat", "lon"} - {missing}).pop())]})
            return attrs

    def act(self, *, visit, user, data):
        result = actions.visit_check_in(visit=visit, by=user, **data)
        return {
            "visit": self.shown(result.visit),
            "distance_m": result.distance_m,
            "warning": result.warning,
        }


class VisitCheckOutApi(VisitDayActionApi):
    class InputSerializer(InputSerializer):
        at = PlanningDateTimeField(required=False)

    def act(self, *, visit, user, data):
        result = actions.visit_check_out(visit=visit, by=user, **data)
        return {"visit": self.shown(result.visit), "warning": result.warning}


class VisitReasonInputSerializer(InputSerializer):
    reason = serializers.CharField(max_length=300)


class VisitCancelApi(VisitDayActionApi):
    InputSerializer = VisitReasonInputSerializer
    call_off = staticmethod(actions.visit_cancel)
    staff_may_cancel = True

    def act(self, *, visit, user, data):
        visit = self.call_off(visit=visit, by=user, **data)
        run = replan_after_called_off(visit=visit, by=user)
        return {"visit": self.shown(visit)} | ({} if run is None else {"replan": ReplanOutputSerializer(run).data})


class VisitNoShowApi(VisitCancelApi):
    call_off = staticmethod(actions.visit_mark_no_show)
    staff_may_cancel = False


class VisitLateApi(VisitDayActionApi):
    class InputSerializer(InputSerializer):
        minutes = serializers.IntegerField(min_value=1, max_value=240)
        at = PlanningDateTimeField(required=False, help_text="When the therapist knew; default now.")

    def act(self, *, visit, user, data):
        visit = actions.visit_report_late(visit=visit, by=user, **data)
        # Re-planned from the server's now (what is past cannot move); the delay counts from when the therapist knew.
        run = replan_propose(
            organization=visit.organization, day=visit.date, now=timezone.now(), by=user,
            trigger=f"late:{visit.pk}", concerned=[visit.therapist_id],
        )
        return {"visit": self.shown(visit), "replan": ReplanOutputSerializer(run).data}


class VisitInterruptionApi(VisitDayActionApi):
    class InputSerializer(InputSerializer):
        minutes = serializers.IntegerField(min_value=1, max_value=120)
        kind = serializers.ChoiceField(choices=actions.InterruptionKind.CHOICES)

    def act(self, *, visit, user, data):
        result = actions.visit_record_interruption(visit=visit, by=user, **data)
        if result.repeated:
            # The first report's proposal stands; a second one would re-plan from the same news.
            run = replan_latest(organization=visit.organization, trigger=f"interruption:{visit.pk}")
            return {
                "visit": self.shown(result.visit), "pushed": [], "repeated": True, "detail": result.repeated,
                "replan": ReplanOutputSerializer(run).data if run else None,
            }
        # The push keeps the therapist's own day free of overlaps at once; the proposal then
        # re-plans it properly (travel, windows), touching others only if it must.
        run = replan_propose(
            organization=visit.organization, day=visit.date, by=user, trigger=f"interruption:{visit.pk}",
            concerned=[visit.therapist_id],
        )
        return {
            "visit": self.shown(result.visit),
            "pushed": [self.shown(v) for v in result.pushed],
            "replan": ReplanOutputSerializer(run).data,
        }


class VisitPinApi(VisitDayActionApi):
    permission_classes = [IsCoordinator]
    pinned = True

    def act(self, *, visit, user, data):
        return {"visit": self.shown(actions.visit_set_pinned(visit=visit, pinned=self.pinned, by=user))}


class VisitUnpinApi(VisitPinApi):
    pinned = False


class BufferSuggestionListApi(APIView):
    permission_classes = [IsCoordinator]

    class OutputSerializer(serializers.Serializer):
        care_setting = serializers.CharField()
        samples = serializers.IntegerField()
        p50 = serializers.FloatField(allow_null=True)
        p80 = serializers.FloatField(allow_null=True)
        current_default_min = serializers.IntegerField()
        suggested_min = serializers.IntegerField()

    @extend_schema(
        responses=inline_serializer(
            "BufferSuggestions",
            {
                "min_samples": serializers.IntegerField(),
                "percentile": serializers.IntegerField(),
                "results": OutputSerializer(many=True),
            },
        )
    )
    def get(self, request) -> Response:
        suggestions = buffer_suggestion_list(organization=request.user.organization)
        return Response(
            {
                "min_samples": BUFFER_MIN_SAMPLES,
                "percentile": BUFFER_PERCENTILE,
                "results": self.OutputSerializer(suggestions, many=True).data,
            }
        )


class ReplanCreateApi(APIView):
    permission_classes = [IsCoordinator]

    class ReplanCreateInputSerializer(InputSerializer):
        date = PlanningDateField(required=False)
        now = PlanningDateTimeField(required=False)
        therapists = serializers.ListField(
            child=serializers.IntegerField(min_value=1, max_value=MAX_ID), required=False, max_length=200,
            help_text="Therapists the change concerns (a cancellation's, a no-show's): their days change first.",
        )
        place = serializers.ListField(
            child=serializers.IntegerField(min_value=1, max_value=MAX_ID), required=False, max_length=200,
            help_text="New visits to find a home for (an urgent same-day request), disturbing as few others as it can.",
        )

        def validate_date(self, value: dt.date) -> dt.date:
            # Nothing of a past day can change any more; such a run would also hold the organisation's one
            # re-plan slot, and the day's late reports would be refused meanwhile.
            tz = self.context["request"].user.organization.tz
            if value < timezone.localdate(timezone=tz):
                raise serializers.ValidationError(REPLAN_DAY_PASSED.format(day=value, tz=tz.key))
            return value

    @extend_schema(request=ReplanCreateInputSerializer, responses={201: ReplanOutputSerializer})
    def post(self, request) -> Response:
        serializer = self.ReplanCreateInputSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        organization = request.user.organization
        therapists = data.get("therapists", [])
        place = data.get("place", [])
        unknown = {
            "therapists": sorted(set(therapists) - set(
                Therapist.objects.filter(organization=organization, pk__in=therapists).values_list("pk", flat=True)
            )),
            "place": sorted(set(place) - set(
                Visit.objects.filter(organization=organization, pk__in=place).values_list("pk", flat=True)
            )),
        }
        errors = {field: [f"Unknown id {ids[0]}."] for field, ids in unknown.items() if ids}
        if errors:
            raise serializers.ValidationError(errors)
        day = data.get("date") or (data.get("now") or timezone.now()).astimezone(organization.tz).date()
        if placed_elsewhere := [
            f"Visit {v.pk} is {v.get_status_display().lower()} on {v.date}: only a request of {day} can be placed."
            for v in Visit.objects.filter(organization=organization, pk__in=place).order_by("pk")
            if v.status != VisitStatus.REQUESTED or v.date != day
        ]:
            raise serializers.ValidationError({"place": placed_elsewhere})
        run = replan_propose(
            organization=organization, by=request.user, day=data.get("date"), now=data.get("now"),
            concerned=therapists, placing=place,
        )
        return Response(ReplanOutputSerializer(run).data, status=201)


class TherapistOffApi(APIView):
    """A therapist goes home (sick, an emergency): off from a time for the rest of the day, and a re-plan follows."""

    permission_classes = [IsCoordinator]

    class TherapistOffInputSerializer(InputSerializer):
        start = PlanningDateTimeField(required=False, help_text="From when; default now.")
        end = serializers.TimeField(required=False, help_text="Back at (local time); default the end of the day.")
        note = serializers.CharField(max_length=200, required=False, allow_blank=True, default="Went home")

    class TherapistOffOutputSerializer(serializers.Serializer):
        exception = serializers.IntegerField(help_text="The time-off entry created.")
        replan = ReplanOutputSerializer()

    @extend_schema(request=TherapistOffInputSerializer, responses=TherapistOffOutputSerializer)
    def post(self, request, therapist_id: int) -> Response:
        therapist = get_object_or_404(therapists_visible_to(request.user), pk=therapist_id)
        serializer = self.TherapistOffInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        start = data.get("start") or timezone.now()
        off = therapist_mark_off(
            therapist=therapist, start=start, end=data.get("end"), note=data["note"], by=request.user
        )
        run = replan_propose(
            organization=therapist.organization, day=off.date, now=start, by=request.user,
            trigger=f"off:{therapist.pk}", concerned=[therapist.pk],
        )
        return Response({"exception": off.pk, "replan": ReplanOutputSerializer(run).data})


class PlanDiffApi(APIView):
    permission_classes = [IsCoordinator]

    @extend_schema(responses=ReplanOutputSerializer)
    def get(self, request, plan_id: int) -> Response:
        run = get_object_or_404(PlanRun, pk=plan_id, organization_id=request.user.organization_id)
        if run.kind != PlanKind.REPLAN and not (run.result or {}).get("diff"):
            raise Http404
        return Response(ReplanOutputSerializer(run).data)


@extend_schema_field(
    {"description": "The value before or after: a string, number, boolean or null; times in the local offset."}
)
class HistoryValueField(serializers.Field):
    """A changed field's old or new value as the rest of the API writes it: times in the organisation's offset."""

    def to_representation(self, value):
        if isinstance(value, dt.datetime):
            return serializers.DateTimeField().to_representation(value)
        if isinstance(value, dt.date | dt.time):
            return value.isoformat()
        return value


class HistoryChangeSerializer(serializers.Serializer):
    field = serializers.CharField()
    old = HistoryValueField(allow_null=True)
    new = HistoryValueField(allow_null=True)


class HistoryOutputSerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    by = serializers.CharField(allow_null=True)
    type = serializers.CharField()
    reason = serializers.CharField(allow_blank=True)
    changes = HistoryChangeSerializer(many=True)


class VisitHistoryApi(APIView):
    permission_classes = [IsCoordinator]
    scope = staticmethod(visits_visible_to)

    @extend_schema(responses=HistoryOutputSerializer(many=True))
    def get(self, request, pk: int) -> Response:
        instance = get_object_or_404(self.scope(request.user), pk=pk)
        return Response(HistoryOutputSerializer(history_list(instance=instance), many=True).data)


class PatientHistoryApi(VisitHistoryApi):
    scope = staticmethod(patients_visible_to)
