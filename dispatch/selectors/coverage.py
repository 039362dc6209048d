"""A patient's referral and payer authorisation: which visits may still be booked.

A visit after the day the referral expires is not booked, by a plan or by hand. A payer authorises
``units_authorized`` sessions; each completed visit uses one (``units_used``, counted at completion)
and each booked one (scheduled, confirmed, under way) holds one, so booked and used never exceed what
was authorised. Empty ``units_authorized`` means no limit.
"""
from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from dispatch.models import Priority, Visit, VisitStatus

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Iterable

    from dispatch.models import Patient

HOLDING = (VisitStatus.SCHEDULED, VisitStatus.CONFIRMED, VisitStatus.IN_PROGRESS)
REFERRAL_EXPIRED = "The patient's referral expired on {expires}; a visit on {day} needs a renewed referral."
UNITS_USED_UP = (
    "The patient's {authorized} authorised units are used or booked ({used} used, {booked} booked); "
    "the payer must authorise more."
)
URGENCY = {Priority.URGENT: 0, Priority.SOON: 1, Priority.ROUTINE: 2}


def referral_problem(*, patient: Patient, day: dt.date) -> str | None:
    if patient.referral_valid_on(day):
        return None
    return REFERRAL_EXPIRED.format(expires=patient.referral_expires, day=day)


def units_held(*, patient_ids: Iterable[int], exclude_visit_ids: Iterable[int] = ()) -> Counter:
    """Per patient, the visits booked or under way (each holds a unit), less those excluded."""
    rows = (
        Visit.objects.filter(patient_id__in=set(patient_ids), status__in=HOLDING)
        .exclude(pk__in=set(exclude_visit_ids))
        .values_list("patient_id", flat=True)
    )
    return Counter(rows)


def units_problem(*, visit: Visit) -> str | None:
    """Why booking ``visit`` by hand would exceed its patient's authorised units (a visit already booked holds one)."""
    patient = visit.patient
    if patient.units_authorized is None or visit.status in HOLDING:
        return None
    booked = units_held(patient_ids=[patient.pk])[patient.pk]
    if patient.units_used + booked < patient.units_authorized:
        return None
    return UNITS_USED_UP.format(authorized=patient.units_authorized, used=patient.units_used, booked=booked)


def units_left(*, patient: Patient, held_elsewhere: int) -> int:
    """What the payer's authorisation still covers once the used units and those held elsewhere are counted."""
    return max(patient.units_authorized - patient.units_used - held_elsewhere, 0)


def booked_beyond_units(*, patient: Patient, booked: list[Visit]) -> list[Visit]:
    """Of a patient's visits booked from today on (in time order), the last ones their units no longer cover, when
    the authorisation was lowered or units were used meanwhile: the earliest keep what is left after the units used
    and those held by sessions under way or booked on earlier days."""
    if patient.units_authorized is None:
        return []
    elsewhere = units_held(patient_ids=[patient.pk], exclude_visit_ids=[v.pk for v in booked])[patient.pk]
    return booked[units_left(patient=patient, held_elsewhere=elsewhere):]


def visits_beyond_units(*, visits: Iterable[Visit]) -> dict[int, str]:
    """Of the visits a plan may book, those their patient's units cannot cover, each with the reason.

    The units left after what is used and what is booked outside these visits go first to the visits
    already booked among them, then to the most urgent, earliest requested.
    """
    limited = [v for v in visits if v.patient.units_authorized is not None]
    if not limited:
        return {}
    held_elsewhere = units_held(patient_ids={v.patient_id for v in limited}, exclude_visit_ids={v.pk for v in limited})
    by_patient: dict[int, list[Visit]] = {}
    for v in limited:
        by_patient.setdefault(v.patient_id, []).append(v)
    beyond: dict[int, str] = {}
    for patient_id, own in by_patient.items():
        patient = own[0].patient
        left = units_left(patient=patient, held_elsewhere=held_elsewhere[patient_id])
        own.sort(key=lambda v: (v.status not in HOLDING, URGENCY.get(v.priority, 2), v.pk))
        booked = held_elsewhere[patient_id] + sum(1 for v in own if v.status in HOLDING)
        reason = UNITS_USED_UP.format(authorized=patient.units_authorized, used=patient.units_used, booked=booked)
        beyond |= {v.pk: reason for v in own[left:]}
    return beyond
