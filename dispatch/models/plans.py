from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class PlanStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class PlanKind(models.TextChoices):
    DAY = "day", "Plan a day"
    REPLAN = "replan", "Re-plan the rest of today"


class PlanRun(models.Model):
    organization = models.ForeignKey("dispatch.Organization", on_delete=models.CASCADE, related_name="plan_runs")
    date = models.DateField()
    kind = models.CharField(max_length=10, choices=PlanKind.choices, default=PlanKind.DAY)
    scope = models.JSONField(default=dict, blank=True, help_text="therapist ids, facility ids, region.")
    parameters = models.JSONField(default=dict, blank=True, help_text="time limit, seed, weights.")
    status = models.CharField(max_length=10, choices=PlanStatus.choices, default=PlanStatus.QUEUED)
    progress = models.JSONField(default=dict, blank=True, help_text="elapsed_s, best_cost.")
    result = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    # Visit id -> sequence when the run read its input; apply refuses if any moved since.
    input_sequences = models.JSONField(default=dict, blank=True)
    task_id = models.CharField(max_length=64, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    applied_at = models.DateTimeField(null=True, blank=True)
    applied_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                name="plan_applied_only_if_succeeded",
                condition=Q(applied_at__isnull=True) | Q(status="succeeded"),
            ),
            # Each run holds a solver: one day plan per day at a time, one re-plan per organisation.
            models.UniqueConstraint(
                fields=["organization", "date"],
                condition=Q(kind="day", status__in=["queued", "running"]),
                name="plan_one_active_day_plan_per_day",
            ),
            models.UniqueConstraint(
                fields=["organization"],
                condition=Q(kind="replan", status__in=["queued", "running"]),
                name="plan_one_pending_replan_per_organization",
            ),
        ]
