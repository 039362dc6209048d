"""Writes for the organisation's records: therapists, facilities, patients and availability."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Model, QuerySet
from django.utils import timezone

from dispatch.exceptions import ConflictError
from dispatch.geocoding import coordinates_fill
from dispatch.models import (
    Contraindication,
    Facility,
    Patient,
    Precaution,
    Role,
    Therapist,
    TherapistCredential,
    User,
    Visit,
    VisitStatus,
)
from dispatch.notifications.changes import change_set
from dispatch.selectors.coverage import booked_beyond_units, referral_problem
from dispatch.services.booking import patient_needs_problems, qualification_problems, visiting_hours_of
from dispatch.services.day_travel import day_travel_refresh
from dispatch.services.visit_status import visit_transition
from dispatch.services.visits import visits_follow_patient

if TYPE_CHECKING:
    from collections.abc import Iterable

    from dispatch.models import CredentialType, Organization, Skill

M = TypeVar("M", bound=Model)
SWITCHED_OFF_IN_A_SESSION = (
    "{name} is in visit {visit} now (checked in at {at}); switch them off once they have checked out."
)
UNBOOKED_SWITCHED_OFF = "Unbooked: {name} was switched off; the visit is open to plan again."
UNBOOKED_UNQUALIFIED = "Unbooked: {name} lacks a skill or credential it needs now; the visit is open to plan again."
UNBOOKED_OUTSIDE_HOURS = (
    "Unbooked: {facility}'s visiting hours are now {opens}-{closes}, and the visit was booked outside them; it is open "
    "to plan again."
)
PATIENT_IN_A_SESSION = "The patient is in visit {visit} now; close the record once it has ended."
CANCELLED_PATIENT_CLOSED = "Cancelled: the patient's record was closed (made inactive)."
UNBOOKED_NO_REFERRAL = "Unbooked: the patient's referral no longer covers the visit's day; it is open to plan again."
UNBOOKED_PATIENT_NEEDS = "Unbooked: the patient's wishes changed and {name} no longer meets them; open to plan again."
UNBOOKED_UNITS = (
    "Unbooked: the patient's authorised units ({authorized}, {used} used) no longer cover this visit; it waits "
    "for the payer to authorise more."
)
PREFERRED_AND_EXCLUDED = "Therapist {ids} cannot be both preferred and excluded; take them off one of the lists."


@transaction.atomic
def record_save(*, instance: M, fields: dict[str, Any], by: User | None = None) -> M:
    """Set plain fields, validate the whole row, save: the one write path for records without rules of their own."""
    for name, value in fields.items():
        setattr(instance, name, value)
    if by is not None:
        instance._history_user = by
    instance.full_clean()
    instance.save()
    return instance


@transaction.atomic
def therapist_create(
    *,
    organization: Organization,
    username: str,
    email: str = "",
    skills: Iterable[Skill] = (),
    credentials: list[dict[str, Any]] | None = None,
    **fields: Any,
) -> Therapist:
    """A therapist and the login they sign in with (no password: set through a reset or the admin)."""
    therapist = Therapist(organization=organization)
    fields = _therapist_home_fill(therapist=therapist, fields=fields)
    user = User(username=username, email=email, organization=organization, role=Role.THERAPIST)
    user.set_unusable_password()
    record_save(instance=user, fields={})
    therapist.user = user
    therapist = record_save(instance=therapist, fields=fields)
    return _therapist_relations_set(therapist=therapist, skills=skills, credentials=credentials)


@transaction.atomic
def therapist_update(
    *,
    therapist: Therapist,
    skills: Iterable[Skill] | None = None,
    credentials: list[dict[str, Any]] | None = None,
    **fields: Any,
) -> Therapist:
    switching_off = therapist.active and fields.get("active") is False
    fields = _therapist_home_fill(therapist=therapist, fields=fields)
    therapist = record_save(instance=therapist, fields=fields)
    if switching_off:
        therapist_unbook_upcoming(therapist=therapist)
    therapist = _therapist_relations_set(therapist=therapist, skills=skills, credentials=credentials)
    if skills is not None or credentials is not None:
        visits_unbook_unqualified(visits=Visit.objects.filter(therapist=therapist))
    return therapist


@transaction.atomic
@change_set()  # the unbooked visits' facilities and the coordinators hear of it
def visits_unbook_unqualified(*, visits: QuerySet[Visit]) -> list[Visit]:
    """Of ``visits``, those booked from today on whose therapist now lacks a skill the visit needs or a credential
    its facility requires (a skill or credential taken away, a credential newly required) go back to the requests,
    with the reason, in the change's transaction: booking and the planner refuse such a therapist."""
    booked = visits.select_for_update(of=("self",)).select_related("therapist", "facility", "organization").filter(
        status__in=(VisitStatus.SCHEDULED, VisitStatus.CONFIRMED)
    ).order_by("planned_start")
    return visits_unbook(visits=[
        v for v in booked
        if v.date >= timezone.localdate(timezone.now(), v.organization.tz)
        and qualification_problems(visit=v, therapist=v.therapist)
    ], reason=UNBOOKED_UNQUALIFIED, by=None)


def visits_unbook(*, visits: Iterable[Visit], reason: str, by: User | None) -> list[Visit]:
    """Send booked visits back to the requests, ``reason`` (naming their therapist as {name}) said on each, and
    count travel again on the days they left (the next stop now comes from further back)."""
    return _visits_move(visits=visits, target=VisitStatus.REQUESTED, reason=reason, by=by)


def _visits_move(*, visits: Iterable[Visit], target: str, reason: str, by: User | None) -> list[Visit]:
    moved, left = [], set()
    for visit in visits:
        therapist = visit.therapist
        name = therapist.display_name if therapist else ""
        moved.append(visit_transition(visit=visit, target=target, reason=reason.format(name=name)))
        if therapist is not None:
            left.add((therapist, visit.date))
    for therapist, day in sorted(left, key=lambda pair: (pair[0].pk, pair[1])):
        day_travel_refresh(therapist=therapist, day=day, by=by)
    return moved


@transaction.atomic
@change_set()  # the unbooked visits' facilities and the coordinators hear of it
def therapist_unbook_upcoming(*, therapist: Therapist) -> list[Visit]:
    """A therapist switched off sees no feed, no app and no plan: the visits still booked on them from today on
    would wait for someone who is not coming. They go back to the requests, with the reason, in the switch-off's
    transaction; a session under way is finished first (refused with 409, nothing changed)."""
    tz = therapist.organization.tz
    under_way = Visit.objects.filter(therapist=therapist, status=VisitStatus.IN_PROGRESS).first()
    if under_way is not None:
        raise ConflictError(SWITCHED_OFF_IN_A_SESSION.format(
            name=therapist.display_name, visit=under_way.pk,
            at=under_way.actual_start.astimezone(tz).strftime("%H:%M on %Y-%m-%d"),
        ), {"visit": under_way.pk})
    booked = Visit.objects.select_for_update(of=("self",)).select_related("therapist").filter(
        therapist=therapist, status__in=(VisitStatus.SCHEDULED, VisitStatus.CONFIRMED),
        date__gte=timezone.localdate(timezone.now(), tz),
    ).order_by("planned_start")
    return visits_unbook(visits=booked, reason=UNBOOKED_SWITCHED_OFF, by=None)


def _therapist_home_fill(*, therapist: Therapist, fields: dict[str, Any]) -> dict[str, Any]:
    return coordinates_fill(instance=therapist, fields=fields, address="home_address", lat="home_lat", lon="home_lon")


def _therapist_relations_set(
    *, therapist: Therapist, skills: Iterable[Skill] | None, credentials: list[dict[str, Any]] | None
) -> Therapist:
    if skills is not None:
        therapist.skills.set(skills)
    if credentials is not None:
        therapist.credentials.all().delete()
        for credential in credentials:
            record_save(instance=TherapistCredential(therapist=therapist), fields=credential)
    return therapist


@transaction.atomic
def therapist_delete(*, therapist: Therapist) -> None:
    """Only a therapist with no visits can go (PROTECT answers 409); deactivate the others instead."""
    user = therapist.user
    therapist.delete()
    user.delete()


@transaction.atomic
def facility_save(
    *,
    facility: Facility,
    required_credentials: Iterable[CredentialType] | None = None,
    **fields: Any,
) -> Facility:
    hours_before = (facility.visiting_hours_start, facility.visiting_hours_end) if facility.pk else None
    facility = record_save(instance=facility, fields=fields)
    if required_credentials is not None:
        facility.required_credentials.set(required_credentials)
        visits_unbook_unqualified(visits=Visit.objects.filter(facility=facility))
    if hours_before is not None and hours_before != (facility.visiting_hours_start, facility.visiting_hours_end):
        visits_unbook_outside_hours(facility=facility)
    return facility


@transaction.atomic
@change_set()  # the unbooked visits' coordinators and facility hear of it
def visits_unbook_outside_hours(*, facility: Facility) -> list[Visit]:
    """Visiting hours narrowed: what is booked from today on at a time the door is now shut goes back to the
    requests, with the reason (the planner and booking keep to the hours as they are now)."""
    booked = Visit.objects.select_for_update(of=("self",)).select_related("therapist", "facility", "organization").filter(
        facility=facility, status__in=(VisitStatus.SCHEDULED, VisitStatus.CONFIRMED),
        date__gte=timezone.localdate(timezone.now(), facility.organization.tz),
    ).order_by("planned_start")
    shut = [v for v in booked if (door := visiting_hours_of(v)) and not (
        door[0] <= v.planned_start and v.planned_end <= door[1]
    )]
    if not shut:
        return []
    reason = UNBOOKED_OUTSIDE_HOURS.format(
        facility=facility.name, opens=f"{facility.visiting_hours_start:%H:%M}",
        closes=f"{facility.visiting_hours_end:%H:%M}",
    ).replace("{", "{{").replace("}", "}}")  # visits_unbook formats the reason with the therapist's name
    return visits_unbook(visits=shut, reason=reason, by=None)


@transaction.atomic
def patient_save(
    *,
    patient: Patient,
    by: User,
    contraindications: list[dict[str, Any]] | None = None,
    precautions: list[dict[str, Any]] | None = None,
    preferred_therapists: Iterable[Therapist] | None = None,
    excluded_therapists: Iterable[Therapist] | None = None,
    **fields: Any,
) -> Patient:
    """Create or change a patient; nested intake lists, when given, replace the ones on record.

    A home patient's address given without coordinates is geocoded; at a facility, the facility's place counts.
    """
    if fields.get("facility", patient.facility if patient.facility_id else None) is None:
        fields = coordinates_fill(instance=patient, fields=fields, address="address", lat="lat", lon="lon")
    closing = bool(patient.pk) and patient.active and fields.get("active") is False
    patient = record_save(instance=patient, fields=fields, by=by)
    if closing:
        patient_visits_call_off(patient=patient, by=by)
    preferred = set(preferred_therapists) if preferred_therapists is not None else set(
        patient.preferred_therapists.all() if patient.pk else ()
    )
    excluded = set(excluded_therapists) if excluded_therapists is not None else set(
        patient.excluded_therapists.all() if patient.pk else ()
    )
    if both := sorted(therapist.pk for therapist in preferred & excluded):
        raise ValidationError({"excluded_therapists": PREFERRED_AND_EXCLUDED.format(ids=", ".join(map(str, both)))})
    if preferred_therapists is not None:
        patient.preferred_therapists.set(preferred_therapists)
    if excluded_therapists is not None:
        patient.excluded_therapists.set(excluded_therapists)
    for model, items in ((Contraindication, contraindications), (Precaution, precautions)):
        if items is None:
            continue
        for old in model.objects.filter(patient=patient):
            old._history_user = by
            old.delete()
        for item in items:
            record_save(instance=model(patient=patient), fields=item, by=by)
    visits_follow_patient(patient=patient, by=by)
    patient_unbook_unmet_needs(patient=patient, by=by)
    return patient


@transaction.atomic
@change_set()  # the therapists, facilities and coordinators of the visits called off hear of it
def patient_visits_call_off(*, patient: Patient, by: User | None) -> list[Visit]:
    """A patient made inactive (discharged, moved away, died) is visited no more: their visits from today on, booked
    or requested, are cancelled with the reason in the same transaction. A session under way is finished first."""
    under_way = Visit.objects.filter(patient=patient, status=VisitStatus.IN_PROGRESS).first()
    if under_way is not None:
        raise ConflictError(PATIENT_IN_A_SESSION.format(visit=under_way.pk), {"visit": under_way.pk})
    to_come = Visit.objects.select_for_update(of=("self",)).select_related("therapist").filter(
        patient=patient, status__in=(VisitStatus.REQUESTED, VisitStatus.SCHEDULED, VisitStatus.CONFIRMED),
        date__gte=timezone.localdate(timezone.now(), patient.organization.tz),
    ).order_by("date", "planned_start")
    return _visits_move(visits=to_come, target=VisitStatus.CANCELLED, reason=CANCELLED_PATIENT_CLOSED, by=by)


@transaction.atomic
@change_set()  # the unbooked visits' facilities and the coordinators hear of it
def patient_unbook_unmet_needs(*, patient: Patient, by: User | None) -> list[Visit]:
    """A therapist the patient now excludes, or who is not the gender or does not speak the language the patient now
    needs, would still come to the visits already booked on them, a referral cut short would leave visits booked
    past it, and units lowered would leave more visits booked than the payer pays for: those from today on go back
    to the requests, with the reason, in the patient change's transaction (booking and the planner refuse all
    three)."""
    today = timezone.localdate(timezone.now(), patient.organization.tz)
    booked = Visit.objects.select_for_update(of=("self",)).select_related("therapist", "patient").filter(
        patient=patient, status__in=(VisitStatus.SCHEDULED, VisitStatus.CONFIRMED), date__gte=today
    ).order_by("planned_start")
    booked = list(booked)
    uncovered = [v for v in booked if referral_problem(patient=v.patient, day=v.date)]
    unmet = [v for v in booked if v not in uncovered and patient_needs_problems(visit=v, therapist=v.therapist)]
    kept = [v for v in booked if v not in uncovered and v not in unmet]
    beyond = booked_beyond_units(patient=patient, booked=kept)
    units = UNBOOKED_UNITS.format(authorized=patient.units_authorized, used=patient.units_used)
    return [
        *visits_unbook(visits=uncovered, reason=UNBOOKED_NO_REFERRAL, by=by),
        *visits_unbook(visits=unmet, reason=UNBOOKED_PATIENT_NEEDS, by=by),
        *visits_unbook(visits=beyond, reason=units, by=by),
    ]

