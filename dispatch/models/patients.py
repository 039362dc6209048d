from __future__ import annotations

from datetime import date

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from simple_history.models import HistoricalRecords

from dispatch.models.checks import CheckConstraintsInOneQuery
from dispatch.models.geo import coordinate_constraints, latitude_field, longitude_field
from dispatch.models.therapists import Gender

EARLIEST_BIRTH = date(1900, 1, 1)
BIRTH_OUT_OF_RANGE = "Give a date of birth between {earliest} and today."


class Patient(CheckConstraintsInOneQuery, models.Model):
    organization = models.ForeignKey("dispatch.Organization", on_delete=models.CASCADE, related_name="patients")
    facility = models.ForeignKey(
        "dispatch.Facility",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="patients",
        help_text="Blank for a patient seen at home.",
    )
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    date_of_birth = models.DateField(null=True, blank=True)
    phone = models.CharField(max_length=40, blank=True)
    # Home patients: the address and coordinates. Facility patients: room and bed; the place is the facility's.
    address = models.CharField(max_length=300, blank=True)
    lat = latitude_field(null=True, blank=True)
    lon = longitude_field(null=True, blank=True)
    room = models.CharField(max_length=40, blank=True)
    bed = models.CharField(max_length=20, blank=True)
    access_notes = models.CharField(max_length=300, blank=True, help_text="Door code, parking, ward entrance.")
    # Preferences
    preferred_therapist_gender = models.CharField(max_length=12, choices=Gender.choices, blank=True)
    language = models.CharField(max_length=8, blank=True, help_text="ISO 639-1 code the patient needs.")
    preferred_therapists = models.ManyToManyField("dispatch.Therapist", blank=True, related_name="preferred_by")
    excluded_therapists = models.ManyToManyField("dispatch.Therapist", blank=True, related_name="excluded_by")
    # Referral (often under a physician's direction) and payer authorisation: health details.
    diagnosis = models.CharField(max_length=300, blank=True)
    referring_clinician = models.CharField(max_length=200, blank=True)
    referral_date = models.DateField(null=True, blank=True)
    referral_expires = models.DateField(null=True, blank=True)
    payer = models.CharField(max_length=200, blank=True)
    units_authorized = models.PositiveIntegerField(null=True, blank=True)
    units_used = models.PositiveIntegerField(default=0)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["last_name", "first_name"]
        constraints = [
            *coordinate_constraints("patient"),
            models.CheckConstraint(
                name="patient_home_has_coordinates",
                condition=Q(facility__isnull=False) | Q(lat__isnull=False, lon__isnull=False),
            ),
            models.CheckConstraint(
                name="patient_referral_expires_after_date",
                condition=Q(referral_date__isnull=True)
                | Q(referral_expires__isnull=True)
                | Q(referral_expires__gte=F("referral_date")),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.first_name} {self.last_name}"

    @property
    def initials(self) -> str:
        return f"{self.first_name[:1]}.{self.last_name[:1]}.".upper()

    def clean(self) -> None:
        super().clean()
        if self.facility_id is None and (self.lat is None or self.lon is None):
            raise ValidationError({"lat": "A patient seen at home needs coordinates (or an address to geocode)."})
        if self.facility_id and self.facility.organization_id != self.organization_id:
            raise ValidationError({"facility": "The facility belongs to another organisation."})
        if self.date_of_birth and not EARLIEST_BIRTH <= self.date_of_birth <= timezone.localdate():
            raise ValidationError({"date_of_birth": BIRTH_OUT_OF_RANGE.format(earliest=EARLIEST_BIRTH)})
        if self.referral_date and self.referral_expires and self.referral_expires < self.referral_date:
            raise ValidationError({"referral_expires": "The referral cannot expire before it was made."})

    def referral_valid_on(self, day: date) -> bool:
        return self.referral_expires is None or self.referral_expires >= day


class ContraindicationKind(models.TextChoices):
    FEVER = "fever", "Fever"
    CONTAGIOUS = "contagious", "Contagious disease"
    DVT = "dvt", "Suspected deep vein thrombosis"
    OTHER = "other", "Other"


class Contraindication(models.Model):
    """While active, it rules out every visit to the patient."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="contraindications")
    kind = models.CharField(max_length=12, choices=ContraindicationKind.choices)
    note = models.CharField(max_length=300, blank=True)
    active_from = models.DateField()
    active_until = models.DateField(null=True, blank=True, help_text="Blank while it lasts.")
    recorded_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-active_from"]
        constraints = [
            models.CheckConstraint(
                name="contraindication_until_after_from",
                condition=Q(active_until__isnull=True) | Q(active_until__gte=F("active_from")),
            )
        ]

    def active_on(self, day: date) -> bool:
        return self.active_from <= day and (self.active_until is None or self.active_until >= day)


class PrecautionKind(models.TextChoices):
    DEVICE = "device", "Medical device or tubing"
    WOUND = "wound", "Open wound"
    POSITIONING = "positioning", "Positioning"
    PRESSURE = "pressure", "Pressure"
    OTHER = "other", "Other"


class Precaution(models.Model):
    """What the therapist must avoid or adapt to work safely."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="precautions")
    kind = models.CharField(max_length=12, choices=PrecautionKind.choices)
    body_site = models.CharField(max_length=100, blank=True)
    note = models.CharField(max_length=300, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["kind", "id"]
