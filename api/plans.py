"""Plan runs: start one (202), watch its progress, apply it in one transaction (or 409)."""
from __future__ import annotations

from django.conf import settings
from django.shortcuts import get_object_or_404
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.views import APIView

from api.fields import PlanningDateField
from api.idempotency import IDEMPOTENCY_KEY_PARAMETER, idempotent
from api.inputs import InputSerializer
from api.permissions import IsCoordinator
from dispatch.exceptions import PlanAlreadyRunning
from dispatch.models import Facility, PlanRun, Therapist
from dispatch.services.plans import plan_run_apply, plan_run_create, plan_runs_fail_stale
from dispatch.services.replan_diff import replan_affected


class PlanCreateInputSerializer(InputSerializer):
    date = PlanningDateField()
    therapists = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=2**63 - 1), required=False, default=list, max_length=500)
    facilities = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=2**63 - 1), required=False, default=list, max_length=500)
    time_limit_s = serializers.FloatField(required=False, min_value=0.5)
    seed = serializers.IntegerField(required=False, default=0, min_value=0, max_value=2**31 - 1)

    def validate_time_limit_s(self, value: float) -> float:
        if value > settings.ROUNDS_PLAN_MAX_TIME_LIMIT_S:
            raise serializers.ValidationError(
                f"Ensure this value is less than or equal to {settings.ROUNDS_PLAN_MAX_TIME_LIMIT_S}."
            )
        return value

    def _known(self, ids: list[int], model, label: str) -> list[int]:
        organization = self.context["request"].user.organization
        found = set(model.objects.filter(organization=organization, pk__in=ids).values_list("pk", flat=True))
        unknown = sorted(set(ids) - found)
        if unknown:
            raise serializers.ValidationError(f"Unknown {label}: {', '.join(map(str, unknown))}.")
        return ids

    def validate_therapists(self, value: list[int]) -> list[int]:
        return self._known(value, Therapist, "therapist")

    def validate_facilities(self, value: list[int]) -> list[int]:
        return self._known(value, Facility, "facility")


class NamedRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class AffectedSerializer(serializers.Serializer):
    therapists = NamedRefSerializer(many=True)
    facilities = NamedRefSerializer(many=True)


def affected_of(run: PlanRun) -> dict | None:
    """Who applying the run changes something for (to be told), once it has a diff."""
    if not (run.result or {}).get("diff"):
        return None
    affected = replan_affected(run=run)
    return {
        "therapists": [{"id": t.pk, "name": t.display_name} for t in affected.therapists],
        "facilities": [{"id": f.pk, "name": f.name} for f in affected.facilities],
    }


class PlanOutputSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()
    affected = serializers.SerializerMethodField(help_text="Therapists and facilities the run's changes reach.")

    class Meta:
        model = PlanRun
        fields = [
            "id", "url", "date", "kind", "status", "scope", "parameters", "progress", "result", "error",
            "attempts", "created_at", "started_at", "finished_at", "applied_at", "applied_by", "affected",
        ]

    def get_url(self, run: PlanRun) -> str:
        return reverse("plan-detail", kwargs={"plan_id": run.pk}, request=self.context.get("request"))

    @extend_schema_field(AffectedSerializer(allow_null=True))
    def get_affected(self, run: PlanRun) -> dict | None:
        return affected_of(run)


class PlanSummarySerializer(PlanOutputSerializer):
    """The list leaves the (large) result out; the detail has it."""

    class Meta(PlanOutputSerializer.Meta):
        fields = [f for f in PlanOutputSerializer.Meta.fields if f != "result"]


class PlanFilter(filters.FilterSet):
    class Meta:
        model = PlanRun
        fields = ["date", "status", "kind"]


def _plans_of(user):
    return PlanRun.objects.filter(organization_id=user.organization_id)


class PlanListCreateApi(ListAPIView):
    permission_classes = [IsCoordinator]
    serializer_class = PlanSummarySerializer
    filterset_class = PlanFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no user
            return PlanRun.objects.none()
        return _plans_of(self.request.user)

    @extend_schema(
        request=PlanCreateInputSerializer,
        responses={202: PlanOutputSerializer},
        parameters=[IDEMPOTENCY_KEY_PARAMETER],
        description="409 while a plan for the same day runs (``extra.url`` is that plan), or while "
        "ROUNDS_PLAN_MAX_RUNNING plans of the organisation run (``extra.urls``).",
    )
    @idempotent
    def post(self, request) -> Response:
        serializer = PlanCreateInputSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            run = plan_run_create(
                organization=request.user.organization,
                day=data["date"],
                created_by=request.user,
                therapists=data["therapists"],
                facilities=data["facilities"],
                time_limit_s=data.get("time_limit_s"),
                seed=data["seed"],
            )
        except PlanAlreadyRunning as exc:
            running = [exc.extra["plan"]] if "plan" in exc.extra else exc.extra["plans"]
            exc.extra["urls"] = [reverse("plan-detail", kwargs={"plan_id": pk}, request=request) for pk in running]
            if "plan" in exc.extra:
                exc.extra["url"] = exc.extra["urls"][0]
            raise
        body = PlanOutputSerializer(run, context={"request": request}).data
        return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": body["url"]})


class PlanDetailApi(APIView):
    permission_classes = [IsCoordinator]

    @extend_schema(responses=PlanOutputSerializer)
    def get(self, request, plan_id: int) -> Response:
        # A client following a run whose worker was lost sees it fail instead of waiting for ever.
        plan_runs_fail_stale(organization=request.user.organization)
        run = get_object_or_404(_plans_of(request.user), pk=plan_id)
        return Response(PlanOutputSerializer(run, context={"request": request}).data)


class PlanApplyInputSerializer(InputSerializer):
    drop_booked = serializers.BooleanField(
        default=False,
        help_text="Unbook the booked visits the plan leaves unassigned (its result's would_unbook); "
        "without it such a plan is refused with 409.",
    )


class PlanApplyApi(APIView):
    permission_classes = [IsCoordinator]

    @extend_schema(request=PlanApplyInputSerializer, responses={200: PlanOutputSerializer})
    def post(self, request, plan_id: int) -> Response:
        run = get_object_or_404(_plans_of(request.user), pk=plan_id)
        serializer = PlanApplyInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        run = plan_run_apply(plan_run=run, applied_by=request.user, **serializer.validated_data)
        return Response(PlanOutputSerializer(run, context={"request": request}).data)
