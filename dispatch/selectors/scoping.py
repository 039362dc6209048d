"""Who sees what: every API view starts from one of these querysets.

Everything is filtered by the user's organisation first. Therapists see their own visits and
the patients they visit; facility staff see their facility, the patients now at it, and the visits
that take place at (were requested for) it. A visit's facility is fixed when it is requested, so a
patient moving to another facility takes none of their earlier visits along: the old facility keeps
seeing (and, while requests, editing) its own, the new one sees only those made for it. An object
outside these querysets answers 404 (it is not yours).
"""
from __future__ import annotations

from django.db.models import QuerySet

from dispatch.models import (
    AvailabilityException,
    Facility,
    Patient,
    Role,
    Therapist,
    TherapistBreak,
    Visit,
    VisitStatus,
    WeeklyAvailability,
)


def _role(user) -> str | None:
    if not user or not user.is_authenticated or user.organization_id is None:
        return None
    return user.role


def visits_visible_to(user) -> QuerySet[Visit]:
    visits = Visit.objects.filter(organization_id=getattr(user, "organization_id", None))
    role = _role(user)
    if role == Role.COORDINATOR:
        return visits
    if role == Role.THERAPIST:
        return visits.filter(therapist__user=user)
    if role == Role.FACILITY_STAFF:
        return visits.filter(facility_id=user.facility_id)
    return visits.none()


def patients_visible_to(user) -> QuerySet[Patient]:
    patients = Patient.objects.filter(organization_id=getattr(user, "organization_id", None))
    role = _role(user)
    if role == Role.COORDINATOR:
        return patients
    if role == Role.THERAPIST:
        visited = Visit.objects.filter(therapist__user=user).exclude(status=VisitStatus.CANCELLED)
        return patients.filter(pk__in=visited.values("patient_id"))
    if role == Role.FACILITY_STAFF:
        return patients.filter(facility_id=user.facility_id)
    return patients.none()


def therapists_visible_to(user) -> QuerySet[Therapist]:
    therapists = Therapist.objects.filter(organization_id=getattr(user, "organization_id", None))
    role = _role(user)
    if role == Role.COORDINATOR:
        return therapists
    if role == Role.THERAPIST:
        return therapists.filter(user=user)
    return therapists.none()


def facilities_visible_to(user) -> QuerySet[Facility]:
    facilities = Facility.objects.filter(organization_id=getattr(user, "organization_id", None))
    role = _role(user)
    if role in (Role.COORDINATOR, Role.THERAPIST):
        return facilities
    if role == Role.FACILITY_STAFF:
        return facilities.filter(pk=user.facility_id)
    return facilities.none()


def weekly_availability_visible_to(user) -> QuerySet[WeeklyAvailability]:
    return WeeklyAvailability.objects.filter(therapist__in=therapists_visible_to(user))


def availability_exceptions_visible_to(user) -> QuerySet[AvailabilityException]:
    return AvailabilityException.objects.filter(therapist__in=therapists_visible_to(user))


def breaks_visible_to(user) -> QuerySet[TherapistBreak]:
    breaks = TherapistBreak.objects.filter(therapist__in=therapists_visible_to(user))
    return breaks.order_by("therapist", "earliest_start")
