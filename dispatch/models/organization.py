from __future__ import annotations

import zoneinfo

from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower

from dispatch.models.signalling import SignallingManager, UserManager

USERNAME_TAKEN = "A user named {username!r} already exists (usernames do not differ by case alone)."


def validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not a known IANA time zone.")


class Organization(models.Model):
    """The therapy provider: every record belongs to exactly one."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(unique=True)
    timezone = models.CharField(max_length=64, default="America/Toronto", validators=[validate_timezone])
    # How the screens write dates and times (a BCP 47 tag the browser's Intl understands).
    locale = models.CharField(max_length=16, default="en-CA", help_text="e.g. en-CA, fr-CA, en-GB.")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = SignallingManager()  # its zone is in every cached feed holder

    def __str__(self) -> str:
        return self.name

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)


class Role(models.TextChoices):
    COORDINATOR = "coordinator", "Dispatch coordinator"
    THERAPIST = "therapist", "Therapist"
    FACILITY_STAFF = "facility_staff", "Facility staff"


class User(AbstractUser):
    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, null=True, blank=True, related_name="users"
    )
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.COORDINATOR)
    facility = models.ForeignKey(
        "dispatch.Facility", on_delete=models.PROTECT, null=True, blank=True, related_name="staff"
    )

    objects = UserManager()  # a feed holder's entitlement reads is_active, role and facility

    class Meta:
        constraints = [
            # clean() says which name is taken; this holds it when two sign-ups race (or a bulk write skips clean).
            models.UniqueConstraint(
                Lower("username"), name="user_username_unique_ignoring_case",
                violation_error_message="A user with this username already exists (usernames do not differ by case alone).",
            ),
            models.CheckConstraint(
                name="user_facility_staff_has_facility",
                condition=~Q(role="facility_staff") | Q(facility__isnull=False),
            ),
            models.CheckConstraint(
                name="user_only_facility_staff_has_facility",
                condition=Q(role="facility_staff") | Q(facility__isnull=True),
            ),
        ]

    def clean(self) -> None:
        super().clean()
        # Sign-in compares usernames exactly: "Therapist1" beside "therapist1" would be two people a person
        # cannot tell apart (and one locked out by the other's failures).
        if self.username and User.objects.filter(username__iexact=self.username).exclude(pk=self.pk).exists():
            raise ValidationError({"username": USERNAME_TAKEN.format(username=self.username)})
        if self.role == Role.FACILITY_STAFF and self.facility_id is None:
            raise ValidationError({"facility": "Facility staff must belong to a facility."})
        if self.role != Role.FACILITY_STAFF and self.facility_id is not None:
            raise ValidationError({"facility": "Only facility staff belong to a facility."})
        if self.facility_id and self.facility.organization_id != self.organization_id:
            raise ValidationError({"facility": "The facility belongs to another organisation."})
