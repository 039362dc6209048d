"""A day's schedule: each therapist's shifts and their visits in order."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from dispatch.models import Visit, VisitStatus
from dispatch.selectors import scoping
from dispatch.services.booking import therapist_shifts_on

if TYPE_CHECKING:
    from dispatch.models import Therapist, User


@dataclass(frozen=True)
class Shift:
    start: dt.datetime
    end: dt.datetime


@dataclass(frozen=True)
class TherapistDay:
    therapist: Therapist
    shifts: list[Shift]
    visits: list[Visit]


def schedule_roster(*, user: User, therapist_id: int | None = None) -> list[int]:
    """The therapists a schedule may list, in its order; schedule_days says which of them it does that day."""
    therapists = scoping.therapists_visible_to(user)
    if therapist_id is not None:
        therapists = therapists.filter(pk=therapist_id)
    return list(therapists.values_list("pk", flat=True))


def schedule_days(*, user: User, day: dt.date, therapist_ids: list[int]) -> dict[int, TherapistDay | None]:
    """These therapists' days, in one batch of queries: None for an inactive therapist holding no visit that day."""
    therapists = scoping.therapists_visible_to(user).filter(pk__in=therapist_ids).select_related(
        "organization"
    ).prefetch_related("weekly_availability", "availability_exceptions")
    visits = (
        scoping.visits_visible_to(user)
        .filter(date=day, therapist_id__in=therapist_ids, planned_start__isnull=False)
        .exclude(status=VisitStatus.CANCELLED)
        .select_related("patient", "facility")
        .order_by("planned_start", "id")
    )
    by_therapist: dict[int, list[Visit]] = {}
    for visit in visits:
        by_therapist.setdefault(visit.therapist_id, []).append(visit)
    days: dict[int, TherapistDay | None] = dict.fromkeys(therapist_ids)
    for therapist in therapists:
        own = by_therapist.get(therapist.pk, [])
        if therapist.active or own:
            shifts = [Shift(start=s, end=e) for s, e in therapist_shifts_on(therapist=therapist, day=day)]
            days[therapist.pk] = TherapistDay(therapist=therapist, shifts=shifts, visits=own)
    return days

