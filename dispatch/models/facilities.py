from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import F, Q

from dispatch.models.checks import CheckConstraintsInOneQuery
from dispatch.models.geo import coordinate_constraints, latitude_field, longitude_field
from dispatch.models.signalling import SignallingManager


class CareSetting(models.TextChoices):
    HOME = "home", "Home"
    HOSPITAL = "hospital", "Hospital"
    ASSISTED_LIVING = "assisted_living", "Assisted living"
    REHAB = "rehab", "Rehabilitation centre"
    HOSPICE = "hospice", "Hospice"
    NURSING_HOME = "nursing_home", "Nursing home"


# Minutes reserved after a session for interruptions by the care team or family,
# unless the facility or the visit says otherwise.
DEFAULT_BUFFER_MIN = {
    CareSetting.HOME: 5,
    CareSetting.HOSPITAL: 15,
    CareSetting.ASSISTED_LIVING: 10,
    CareSetting.REHAB: 10,
    CareSetting.HOSPICE: 15,
    CareSetting.NURSING_HOME: 10,
}

FacilityKind = models.TextChoices(
    "FacilityKind", [(c.name, (c.value, c.label)) for c in CareSetting if c is not CareSetting.HOME]
)


class Facility(CheckConstraintsInOneQuery, models.Model):
    organization = models.ForeignKey("dispatch.Organization", on_delete=models.CASCADE, related_name="facilities")
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=FacilityKind.choices)
    address = models.CharField(max_length=300)
    lat = latitude_field()
    lon = longitude_field()
    phone = models.CharField(max_length=40, blank=True)
    visiting_hours_start = models.TimeField(null=True, blank=True)
    visiting_hours_end = models.TimeField(null=True, blank=True)
    checkin_overhead_min = models.PositiveSmallIntegerField(default=5, validators=[MaxValueValidator(60)])
    default_buffer_min = models.PositiveSmallIntegerField(null=True, blank=True, validators=[MaxValueValidator(60)])
    required_credentials = models.ManyToManyField("dispatch.CredentialType", blank=True, related_name="facilities")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = SignallingManager()  # a feed holder carries its organisation

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "facilities"
        constraints = [
            *coordinate_constraints("facility"),
            models.UniqueConstraint(fields=["organization", "name"], name="facility_name_unique"),
            models.CheckConstraint(
                name="facility_visiting_hours_order",
                condition=Q(visiting_hours_start__isnull=True)
                | Q(visiting_hours_end__isnull=True)
                | Q(visiting_hours_end__gt=F("visiting_hours_start")),
            ),
            models.CheckConstraint(name="facility_overhead_range", condition=Q(checkin_overhead_min__lte=60)),
        ]

    def __str__(self) -> str:
        return self.name

    def visiting_hours_on(self, day: dt.date, tz) -> tuple[dt.datetime, dt.datetime] | None:
        """When the door is open on ``day``, or None where the facility keeps no visiting hours."""
        if self.visiting_hours_start is None or self.visiting_hours_end is None:
            return None
        return (dt.datetime.combine(day, self.visiting_hours_start, tzinfo=tz),
                dt.datetime.combine(day, self.visiting_hours_end, tzinfo=tz))

    def clean(self) -> None:
        super().clean()
        # The constraints' rules on the field each concerns, in words (full_clean then skips the constraint).
        opens, closes = self.visiting_hours_start, self.visiting_hours_end
        if opens is not None and closes is not None and closes <= opens:
            raise ValidationError({"visiting_hours_end": "Visiting hours must end after they start."})
        if self.name and self.organization_id and (
            Facility.objects.filter(organization_id=self.organization_id, name=self.name)
            .exclude(pk=self.pk)
            .exists()
        ):
            raise ValidationError({"name": f"Your organisation already has a facility named {self.name!r}."})

    @property
    def buffer_min(self) -> int:
        if self.default_buffer_min is not None:
            return self.default_buffer_min
        return DEFAULT_BUFFER_MIN[CareSetting(self.kind)]
