"""The dispatch day: what therapists and coordinators do to visits while the day runs."""
from __future__ import annotations

from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import extend_schema, extend_schema_field, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from api.fields import PlanningDateField, PlanningDateTimeField
from api.permissions import IsCoordinator, role_of
from api.plans import PlanApplyInputSerializer
from dispatch.models import PlanKind, PlanRun, Role, Therapist, Visit
from dispatch.selectors.buffers import BUFFER_MIN_SAMPLES, BUFFER_PERCENTILE, buffer_suggestion_list
from dispatch.selectors.filters import MAX_ID
from dispatch.selectors.history import history_list
from dispatch.selectors.scoping import patients_visible_to, therapists_visible_to, visits_visible_to
from dispatch.services import visit_actions as actions
from dispatch.services.availability import therapist_mark_off
from dispatch.services.booking import visit_book
from dispatch.services.replan import replan_apply, replan_propose
from dispatch.services.replan_diff import replan_affected


def visit_for_actor(*, user, visit_id: int) -> Visit:
    """Coordinators reach every visit of their organisation, therapists only their own; others get 404."""
    if role_of(user) not in (Role.COORDINATOR, Role.THERAPIST):
        raise Http404
    return get_object_or_404(visits_visible_to(user), pk=visit_id)


class VisitDayOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Visit
        fields = [
            "id", "status", "status_reason", "therapist", "date", "planned_start", "planned_end",
            "planned_busy_until", "actual_start", "actual_end", "ended_early", "delay_min", "pinned", "sequence",
        ]


class NamedRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class AffectedSerializer(serializers.Serializer):
    therapists = NamedRefSerializer(many=True)
    facilities = NamedRefSerializer(many=True)


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
        if not (run.result or {}).get("diff"):
            return None
        affected = replan_affected(run=run)
        return {
            "therapists": [{"id": t.pk, "name": t.display_name} for t in affected.therapists],
            "facilities": [{"id": f.pk, "name": f.name} for f in affected.facilities],
        }

    @extend_schema_field(serializers.DictField(allow_null=True))
    def get_would_unbook(self, run: PlanRun) -> dict | None:
        return (run.result or {}).get("would_unbook")

    def get_solve_time_s(self, run: PlanRun) -> float | None:
        return ((run.result or {}).get("solution") or {}).get("solve_time_s")


class VisitActionOutputSerializer(serializers.Serializer):
    visit = VisitDayOutputSerializer()
    distance_m = serializers.FloatField(required=False, allow_null=True, help_text="check-in only")
    warning = serializers.CharField(
        required=False, allow_null=True, help_text="check-in: far from the place; check-out: ended early"
    )
    replan = ReplanOutputSerializer(
        required=False, help_text="late and interruption: the re-plan proposal it triggered"
    )
    pushed = VisitDayOutputSerializer(many=True, required=False, help_text="interruption only: visits moved later")


class VisitDayActionApi(APIView):
    """One action on one visit: input serializer, one service, the visit back."""

    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer):
        pass

    def __init_subclass__(cls, **kwargs) -> None:
        # Each action documents its own input; a fresh function per subclass keeps the
        # schema annotation (set on the function object) from leaking between actions.
        super().__init_subclass__(**kwargs)

        def post(self, request, visit_id: int) -> Response:
            return VisitDayActionApi.post(self, request, visit_id)

        # Named after the action, so the schema's components do not collide.
        request = type(f"{cls.__name__.removesuffix('Api')}Input", (cls.InputSerializer,), {})
        cls.post = extend_schema(request=request, responses=VisitActionOutputSerializer)(post)

    def act(self, *, visit: Visit, user, data: dict) -> dict:
        raise NotImplementedError

    def post(self, request, visit_id: int) -> Response:
        visit = visit_for_actor(user=request.user, visit_id=visit_id)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response(self.act(visit=visit, user=request.user, data=serializer.validated_data))


class VisitCheckInApi(VisitDayActionApi):
    class InputSerializer(serializers.Serializer):
        at = PlanningDateTimeField(required=False)
        lat = serializers.FloatField(required=False, min_value=-90, max_value=90)
        lon = serializers.FloatField(required=False, min_value=-180, max_value=180)

    def act(self, *, visit, user, data):
        result = actions.visit_check_in(visit=visit, by=user, **data)
        return {
            "visit": VisitDayOutputSerializer(result.visit).data,
            "distance_m": result.distance_m,
            "warning": result.warning,
        }


class VisitCheckOutApi(VisitDayActionApi):
    class InputSerializer(serializers.Serializer):
        at = PlanningDateTimeField(required=False)

    def act(self, *, visit, user, data):
        result = actions.visit_check_out(visit=visit, by=user, **data)
        return {"visit": VisitDayOutputSerializer(result.visit).data, "warning": result.warning}


class VisitReasonInputSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=300)


class VisitCancelApi(VisitDayActionApi):
    InputSerializer = VisitReasonInputSerializer

    def act(self, *, visit, user, data):
        return {"visit": VisitDayOutputSerializer(actions.visit_cancel(visit=visit, by=user, **data)).data}


class VisitNoShowApi(VisitDayActionApi):
    InputSerializer = VisitReasonInputSerializer

    def act(self, *, visit, user, data):
        return {"visit": VisitDayOutputSerializer(actions.visit_mark_no_show(visit=visit, by=user, **data)).data}


class VisitLateApi(VisitDayActionApi):
    class InputSerializer(serializers.Serializer):
        minutes = serializers.IntegerField(min_value=1, max_value=240)
        at = PlanningDateTimeField(required=False, help_text="When the therapist knew; default now.")

    def act(self, *, visit, user, data):
        at = data.get("at") or timezone.now()
        visit = actions.visit_report_late(visit=visit, by=user, minutes=data["minutes"], at=at)
        run = replan_propose(
            organization=visit.organization, day=visit.date, now=at, by=user, trigger=f"late:{visit.pk}",
            concerned=[visit.therapist_id],
        )
        return {"visit": VisitDayOutputSerializer(visit).data, "replan": ReplanOutputSerializer(run).data}


class VisitInterruptionApi(VisitDayActionApi):
    class InputSerializer(serializers.Serializer):
        minutes = serializers.IntegerField(min_value=1, max_value=120)
        kind = serializers.ChoiceField(choices=actions.InterruptionKind.CHOICES)

    def act(self, *, visit, user, data):
        result = actions.visit_record_interruption(visit=visit, by=user, **data)
        # The push keeps the therapist's own day free of overlaps at once; the proposal then
        # re-plans it properly (travel, windows), touching others only if it must.
        run = replan_propose(
            organization=visit.organization, day=visit.date, by=user, trigger=f"interruption:{visit.pk}",
            concerned=[visit.therapist_id],
        )
        return {
            "visit": VisitDayOutputSerializer(result.visit).data,
            "pushed": VisitDayOutputSerializer(result.pushed, many=True).data,
            "replan": ReplanOutputSerializer(run).data,
        }


class VisitPinApi(VisitDayActionApi):
    permission_classes = [IsCoordinator]
    pinned = True

    def act(self, *, visit, user, data):
        return {"visit": VisitDayOutputSerializer(actions.visit_set_pinned(visit=visit, pinned=self.pinned, by=user)).data}


class VisitUnpinApi(VisitPinApi):
    pinned = False


class VisitReassignApi(VisitDayActionApi):
    permission_classes = [IsCoordinator]

    class InputSerializer(serializers.Serializer):
        therapist = serializers.IntegerField(min_value=1, max_value=MAX_ID)
        planned_start = PlanningDateTimeField()

    def act(self, *, visit, user, data):
        therapist = get_object_or_404(therapists_visible_to(user), pk=data["therapist"])
        visit = visit_book(visit=visit, therapist=therapist, planned_start=data["planned_start"], by=user, pin=True)
        return {"visit": VisitDayOutputSerializer(visit).data}


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

    class ReplanCreateInputSerializer(serializers.Serializer):
        date = PlanningDateField(required=False)
        now = PlanningDateTimeField(required=False)
        therapists = serializers.ListField(
            child=serializers.IntegerField(), required=False, max_length=200,
            help_text="Therapists the change concerns (a cancellation's, a no-show's): their days change first.",
        )
        place = serializers.ListField(
            child=serializers.IntegerField(), required=False, max_length=200,
            help_text="New visits to find a home for (an urgent same-day request), disturbing as few others as it can.",
        )

    @extend_schema(request=ReplanCreateInputSerializer, responses={201: ReplanOutputSerializer})
    def post(self, request) -> Response:
        serializer = self.ReplanCreateInputSerializer(data=request.data)
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
        run = replan_propose(
            organization=organization, by=request.user, day=data.get("date"), now=data.get("now"),
            concerned=therapists, placing=place,
        )
        return Response(ReplanOutputSerializer(run).data, status=201)


class TherapistOffApi(APIView):
    """A therapist goes home (sick, an emergency): off from a time for the rest of the day, and a re-plan follows."""

    permission_classes = [IsCoordinator]

    class TherapistOffInputSerializer(serializers.Serializer):
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


class ReplanApplyApi(APIView):
    """Until the day plan's apply endpoint takes re-plans too (plan_run_apply), re-plans apply here.

    The answer's ``affected`` lists the therapists and facilities whose visits changed, to be told.
    """

    permission_classes = [IsCoordinator]

    @extend_schema(request=PlanApplyInputSerializer, responses=ReplanOutputSerializer)
    def post(self, request, plan_id: int) -> Response:
        run = get_object_or_404(PlanRun, pk=plan_id, organization_id=request.user.organization_id)
        serializer = PlanApplyInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        run = replan_apply(run=run, by=request.user, **serializer.validated_data)
        return Response(ReplanOutputSerializer(run).data)


class HistoryOutputSerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    by = serializers.CharField(allow_null=True)
    type = serializers.CharField()
    reason = serializers.CharField(allow_blank=True)
    changes = serializers.ListField(child=serializers.DictField())


class VisitHistoryApi(APIView):
    permission_classes = [IsCoordinator]
    scope = staticmethod(visits_visible_to)

    @extend_schema(responses=HistoryOutputSerializer(many=True))
    def get(self, request, pk: int) -> Response:
        instance = get_object_or_404(self.scope(request.user), pk=pk)
        return Response(HistoryOutputSerializer(history_list(instance=instance), many=True).data)


class PatientHistoryApi(VisitHistoryApi):
    scope = staticmethod(patients_visible_to)
