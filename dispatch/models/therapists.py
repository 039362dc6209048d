from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q

from dispatch.models.checks import CheckConstraintsInOneQuery
from dispatch.models.geo import coordinate_constraints, latitude_field, longitude_field
from dispatch.models.signalling import SignallingManager


class Gender(models.TextChoices):
    FEMALE = "female", "Female"
    MALE = "male", "Male"
    NONBINARY = "nonbinary", "Non-binary"
    UNSPECIFIED = "unspecified", "Unspecified"


class SpeedProfile(models.TextChoices):
    CAR = "car", "Car"
    TRANSIT = "transit", "Public transit"
    BICYCLE = "bicycle", "Bicycle"
    WALK = "walk", "Walking"


SPEED_KMH = {SpeedProfile.CAR: 32.0, SpeedProfile.TRANSIT: 20.0, SpeedProfile.BICYCLE: 15.0, SpeedProfile.WALK: 4.5}


class Therapist(CheckConstraintsInOneQuery, models.Model):
    organization = models.ForeignKey("dispatch.Organization", on_delete=models.CASCADE, related_name="therapists")
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="therapist")
    display_name = models.CharField(max_length=120)
    home_address = models.CharField(max_length=300)
    home_lat = latitude_field()
    home_lon = longitude_field()
    skills = models.ManyToManyField("dispatch.Skill", blank=True, related_name="therapists")
    languages = models.JSONField(default=list, blank=True, help_text='ISO 639-1 codes, e.g. ["en", "fr"].')
    gender = models.CharField(max_length=12, choices=Gender.choices, default=Gender.UNSPECIFIED)
    max_visits_per_day = models.PositiveSmallIntegerField(
        default=8, validators=[MinValueValidator(1), MaxValueValidator(30)]
    )
    max_working_minutes_per_day = models.PositiveSmallIntegerField(
        default=480, validators=[MinValueValidator(30), MaxValueValidator(16 * 60)]
    )
    speed_profile = models.CharField(max_length=10, choices=SpeedProfile.choices, default=SpeedProfile.CAR)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = SignallingManager()  # a feed holder's entitlement reads active

    class Meta:
        ordering = ["display_name"]
        constraints = [
            *coordinate_constraints("therapist_home", "home_lat", "home_lon"),
            models.CheckConstraint(
                name="therapist_max_visits_range", condition=Q(max_visits_per_day__gte=1, max_visits_per_day__lte=30)
            ),
            models.CheckConstraint(
                name="therapist_max_minutes_range",
                condition=Q(max_working_minutes_per_day__gte=30, max_working_minutes_per_day__lte=960),
            ),
        ]

    def __str__(self) -> str:
        return self.display_name

    @property
    def speed_kmh(self) -> float:
        return SPEED_KMH[SpeedProfile(self.speed_profile)]


class TherapistCredential(models.Model):
    therapist = models.ForeignKey(Therapist, on_delete=models.CASCADE, related_name="credentials")
    credential_type = models.ForeignKey("dispatch.CredentialType", on_delete=models.PROTECT, related_name="holders")
    expires_on = models.DateField(null=True, blank=True, help_text="Blank means it does not expire.")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["therapist", "credential_type"], name="therapist_credential_unique")
        ]


class Weekday(models.IntegerChoices):
    MONDAY = 0, "Monday"
    TUESDAY = 1, "Tuesday"
    WEDNESDAY = 2, "Wednesday"
    THURSDAY = 3, "Thursday"
    FRIDAY = 4, "Friday"
    SATURDAY = 5, "Saturday"
    SUNDAY = 6, "Sunday"


ENDS_AFTER_START = "The end must be after the start."
SHIFT_OVERLAPS = "Overlaps this therapist's {day} shift {start}-{end}; change that one instead."
EXTRA_SHIFT_TIMES = "An extra shift needs a start and an end time."
TIMES_BOTH_OR_NEITHER = "Give both times, or neither for a whole day."
BREAK_LATEST_BEFORE_EARLIEST = "The break's latest start ({latest}) is before its earliest start ({earliest})."


class WeeklyAvailability(CheckConstraintsInOneQuery, models.Model):
    """A recurring shift in the organisation's local time."""

    therapist = models.ForeignKey(Therapist, on_delete=models.CASCADE, related_name="weekly_availability")
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    start_time = models.TimeField()
    end_time = models.TimeField()

    class Meta:
        ordering = ["therapist", "weekday", "start_time"]
        verbose_name_plural = "weekly availability"
        constraints = [
            models.CheckConstraint(name="availability_ends_after_start", condition=Q(end_time__gt=F("start_time"))),
            models.CheckConstraint(name="availability_weekday_range", condition=Q(weekday__gte=0, weekday__lte=6)),
        ]

    def clean(self) -> None:
        super().clean()
        if self.start_time is None or self.end_time is None or self.weekday is None or not self.therapist_id:
            return
        if self.end_time <= self.start_time:
            raise ValidationError({"end_time": ENDS_AFTER_START})
        clash = (
            WeeklyAvailability.objects.filter(
                therapist_id=self.therapist_id, weekday=self.weekday,
                start_time__lt=self.end_time, end_time__gt=self.start_time,
            )
            .exclude(pk=self.pk)
            .first()
        )
        if clash:
            raise ValidationError({"start_time": SHIFT_OVERLAPS.format(
                day=Weekday(self.weekday).label, start=f"{clash.start_time:%H:%M}", end=f"{clash.end_time:%H:%M}"
            )})


class ExceptionKind(models.TextChoices):
    TIME_OFF = "time_off", "Time off"
    EXTRA_SHIFT = "extra_shift", "Extra shift"


class AvailabilityException(CheckConstraintsInOneQuery, models.Model):
    """A dated change to the weekly pattern: time off (whole day when no times) or an extra shift."""

    therapist = models.ForeignKey(Therapist, on_delete=models.CASCADE, related_name="availability_exceptions")
    date = models.DateField()
    kind = models.CharField(max_length=12, choices=ExceptionKind.choices)
    start_time = models.TimeField(null=True, blank=True)
    end_time = models.TimeField(null=True, blank=True)
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["therapist", "date", "start_time"]
        constraints = [
            models.CheckConstraint(
                name="exception_times_both_or_neither",
                condition=Q(start_time__isnull=True, end_time__isnull=True)
                | Q(start_time__isnull=False, end_time__isnull=False),
            ),
            models.CheckConstraint(
                name="exception_ends_after_start",
                condition=Q(start_time__isnull=True) | Q(end_time__gt=F("start_time")),
            ),
            models.CheckConstraint(
                name="extra_shift_has_times", condition=~Q(kind="extra_shift") | Q(start_time__isnull=False)
            ),
        ]

    def clean(self) -> None:
        super().clean()
        # The constraints' own rules, on the field each concerns (full_clean then skips the constraint).
        if (self.start_time is None) != (self.end_time is None):
            raise ValidationError({"end_time" if self.end_time is None else "start_time": TIMES_BOTH_OR_NEITHER})
        if self.kind == ExceptionKind.EXTRA_SHIFT and self.start_time is None:
            raise ValidationError({"start_time": EXTRA_SHIFT_TIMES})
        if self.start_time is not None and self.end_time <= self.start_time:
            raise ValidationError({"end_time": ENDS_AFTER_START})


class TherapistBreak(CheckConstraintsInOneQuery, models.Model):
    """A daily break the therapist takes somewhere inside a window (lunch between 11:30 and 13:30)."""

    therapist = models.ForeignKey(Therapist, on_delete=models.CASCADE, related_name="breaks")
    earliest_start = models.TimeField()
    latest_start = models.TimeField()
    duration_min = models.PositiveSmallIntegerField(validators=[MinValueValidator(5), MaxValueValidator(120)])

    class Meta:
        constraints = [
            models.CheckConstraint(
                name="break_latest_not_before_earliest", condition=Q(latest_start__gte=F("earliest_start"))
            ),
            models.CheckConstraint(name="break_duration_range", condition=Q(duration_min__gte=5, duration_min__lte=120)),
        ]

    def clean(self) -> None:
        super().clean()
        # The constraint's rule on its field, in words (full_clean then skips the constraint's own message).
        if self.earliest_start is not None and self.latest_start is not None and self.latest_start < self.earliest_start:
            raise ValidationError({"latest_start": BREAK_LATEST_BEFORE_EARLIEST.format(
                latest=f"{self.latest_start:%H:%M}", earliest=f"{self.earliest_start:%H:%M}"
            )})
