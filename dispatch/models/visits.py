from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from simple_history.models import HistoricalRecords

from dispatch.models.checks import CheckConstraintsInOneQuery
from dispatch.models.facilities import DEFAULT_BUFFER_MIN, CareSetting
from dispatch.models.geo import coordinate_constraints, latitude_field, longitude_field

MIN_DURATION_MIN = 15
MAX_DURATION_MIN = 90


class Priority(models.TextChoices):
    ROUTINE = "routine", "Routine"
    SOON = "soon", "Soon"
    URGENT = "urgent", "Urgent / end of life"


class VisitStatus(models.TextChoices):
    REQUESTED = "requested", "Requested"
    SCHEDULED = "scheduled", "Scheduled"
    CONFIRMED = "confirmed", "Confirmed"
    IN_PROGRESS = "in_progress", "In progress"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"
    NO_SHOW = "no_show", "No-show"


# Statuses in which a therapist holds the visit's time.
ASSIGNED_STATUSES = (VisitStatus.SCHEDULED, VisitStatus.CONFIRMED, VisitStatus.IN_PROGRESS, VisitStatus.COMPLETED)
# Statuses the optimiser must leave where they are.
FIXED_STATUSES = (VisitStatus.CONFIRMED, VisitStatus.IN_PROGRESS, VisitStatus.COMPLETED)
OPEN_STATUSES = (VisitStatus.REQUESTED, VisitStatus.SCHEDULED, VisitStatus.CONFIRMED, VisitStatus.IN_PROGRESS)


class VisitSeries(CheckConstraintsInOneQuery, models.Model):
    """A weekly recurrence that generates one visit request per matching day."""

    organization = models.ForeignKey("dispatch.Organization", on_delete=models.CASCADE, related_name="visit_series")
    patient = models.ForeignKey("dispatch.Patient", on_delete=models.CASCADE, related_name="visit_series")
    weekdays = models.JSONField(help_text="Weekday numbers, Monday = 0.")
    window_start = models.TimeField()
    window_end = models.TimeField()
    duration_min = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(MIN_DURATION_MIN), MaxValueValidator(MAX_DURATION_MIN)]
    )
    priority = models.CharField(max_length=10, choices=Priority.choices, default=Priority.ROUTINE)
    required_skills = models.ManyToManyField("dispatch.Skill", blank=True, related_name="+")
    starts_on = models.DateField()
    ends_on = models.DateField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "visit series"
        constraints = [
            # 00:00 as the end is the day's end (as a single visit's window may end at midnight).
            models.CheckConstraint(
                name="series_window_order",
                condition=Q(window_end__gt=F("window_start")) | Q(window_end=dt.time(0), window_start__gt=dt.time(0)),
            ),
            models.CheckConstraint(name="series_dates_order", condition=Q(ends_on__gte=F("starts_on"))),
            models.CheckConstraint(
                name="series_duration_range", condition=Q(duration_min__gte=MIN_DURATION_MIN, duration_min__lte=MAX_DURATION_MIN)
            ),
        ]


class Visit(CheckConstraintsInOneQuery, models.Model):
    """A session at a patient's bedside or home; a request until it is scheduled."""

    organization = models.ForeignKey("dispatch.Organization", on_delete=models.CASCADE, related_name="visits")
    patient = models.ForeignKey("dispatch.Patient", on_delete=models.PROTECT, related_name="visits")
    # Where: copied from the patient (or their facility) when the visit is requested, so a
    # plan and a calendar keep the place the visit was booked for.
    facility = models.ForeignKey("dispatch.Facility", on_delete=models.PROTECT, null=True, blank=True, related_name="visits")
    location_text = models.CharField(max_length=400)
    lat = latitude_field()
    lon = longitude_field()
    date = models.DateField(help_text="The local day the visit is for.")
    duration_min = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(MIN_DURATION_MIN), MaxValueValidator(MAX_DURATION_MIN)]
    )
    buffer_min = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MaxValueValidator(60)], help_text="Blank: the care setting's default."
    )
    priority = models.CharField(max_length=10, choices=Priority.choices, default=Priority.ROUTINE)
    required_skills = models.ManyToManyField("dispatch.Skill", blank=True, related_name="visits")
    status = models.CharField(max_length=12, choices=VisitStatus.choices, default=VisitStatus.REQUESTED)
    status_reason = models.CharField(max_length=300, blank=True)
    therapist = models.ForeignKey(
        "dispatch.Therapist", on_delete=models.PROTECT, null=True, blank=True, related_name="visits"
    )
    planned_start = models.DateTimeField(null=True, blank=True)
    planned_end = models.DateTimeField(null=True, blank=True)
    # planned_end plus the interruption buffer: the therapist's time is held until then.
    planned_busy_until = models.DateTimeField(null=True, blank=True)
    # Travel from the previous stop as planned, so a schedule can show the day with its travel.
    planned_travel_min = models.PositiveSmallIntegerField(null=True, blank=True)
    planned_travel_km = models.FloatField(null=True, blank=True)
    pinned = models.BooleanField(default=False)
    series = models.ForeignKey(VisitSeries, on_delete=models.SET_NULL, null=True, blank=True, related_name="visits")
    instructions = models.CharField(max_length=500, blank=True, help_text="Practical notes for the therapist.")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="requested_visits"
    )
    actual_start = models.DateTimeField(null=True, blank=True)
    actual_end = models.DateTimeField(null=True, blank=True)
    # Checked out before the minimum share of the session (ROUNDS_CHECK_OUT_MIN_SHARE): the coordinator looks.
    ended_early = models.BooleanField(default=False)
    delay_min = models.PositiveSmallIntegerField(default=0)
    # When the delay was reported: "running 25 min late" frees the therapist from then + 25 min.
    delay_reported_at = models.DateTimeField(null=True, blank=True)
    # Grows with every change of time, place or status: iCal SEQUENCE and plan staleness.
    sequence = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        ordering = ["date", "planned_start", "id"]
        indexes = [
            models.Index(fields=["organization", "date", "status"]),
            models.Index(fields=["therapist", "planned_start"]),
        ]
        constraints = [
            *coordinate_constraints("visit"),
            models.CheckConstraint(
                name="visit_duration_range",
                condition=Q(duration_min__gte=MIN_DURATION_MIN, duration_min__lte=MAX_DURATION_MIN),
            ),
            models.CheckConstraint(name="visit_buffer_range", condition=Q(buffer_min__isnull=True) | Q(buffer_min__lte=60)),
            models.CheckConstraint(
                name="visit_status_valid", condition=Q(status__in=[s.value for s in VisitStatus])
            ),
            models.CheckConstraint(
                name="visit_assigned_has_therapist_and_time",
                condition=~Q(status__in=[s.value for s in ASSIGNED_STATUSES])
                | Q(therapist__isnull=False, planned_start__isnull=False, planned_end__isnull=False),
            ),
            models.CheckConstraint(
                name="visit_planned_end_after_start",
                condition=Q(planned_start__isnull=True) | Q(planned_end__gt=F("planned_start")),
            ),
            models.CheckConstraint(
                name="visit_busy_until_not_before_end",
                condition=Q(planned_end__isnull=True) | Q(planned_busy_until__gte=F("planned_end")),
            ),
        ]

    def __str__(self) -> str:
        return f"Visit {self.pk} ({self.patient.initials}, {self.date})"

    @classmethod
    def from_db(cls, db, field_names, values):
        # Who held the visit as loaded, so a save that moves it also refreshes the feed it leaves
        # (dispatch/cache_versions.py); Django's documented way to remember loaded values, without a signal per row.
        visit = super().from_db(db, field_names, values)
        visit._feed_owners_loaded = (
            ("therapist", visit.__dict__.get("therapist_id")),
            ("facility", visit.__dict__.get("facility_id")),
        )
        # And the day's part it sits in (a therapist's, or the open requests'), for the cached schedule and board.
        visit._day_loaded = (visit.__dict__.get("therapist_id"), visit.__dict__.get("date"), visit.__dict__.get("status"))
        return visit

    @property
    def care_setting(self) -> CareSetting:
        return CareSetting(self.facility.kind) if self.facility_id else CareSetting.HOME

    @property
    def effective_buffer_min(self) -> int:
        if self.buffer_min is not None:
            return self.buffer_min
        if self.facility_id:
            return self.facility.buffer_min
        return DEFAULT_BUFFER_MIN[CareSetting.HOME]


class VisitWindow(models.Model):
    """A time range in which the session may start and end."""

    visit = models.ForeignKey(Visit, on_delete=models.CASCADE, related_name="windows")
    start = models.DateTimeField()
    end = models.DateTimeField()

    class Meta:
        ordering = ["start"]
        constraints = [models.CheckConstraint(name="window_ends_after_start", condition=Q(end__gt=F("start")))]
