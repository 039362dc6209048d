"""Travel between the stops of one therapist's day, measured as the optimiser measures it.

A booking by hand must leave the therapist time to get from the previous stop (or home, from the
start of their day) and on to the next one (or home, by its end): the same travel provider, the
same rounding up to whole minutes, the same facility check-in overhead and the same "no travel
between two visits at one site" as the plan. A booking the optimiser would call unreachable is
refused here instead of being dropped by the next re-plan.
"""
from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import optimizer
from dispatch.models import ASSIGNED_STATUSES, Visit, VisitStatus
from dispatch.travel import travel_provider

if TYPE_CHECKING:
    from dispatch.models import Therapist, User

FROM_PREVIOUS = (
    "Therapist {therapist} is at visit {other} until {free} and needs {travel} min to get there "
    "({km} km{overhead}); {earliest} is the earliest start."
)
FROM_HOME = (
    "Therapist {therapist}'s day starts at {free} at home, {travel} min away ({km} km{overhead}); "
    "{earliest} is the earliest start."
)
TO_NEXT = (
    "Therapist {therapist} could not reach visit {other} at {next_start}: free at {free}, then {travel} min "
    "of travel ({km} km{overhead})."
)
TO_HOME = (
    "Therapist {therapist} would be home at {home_at} ({travel} min, {km} km, after the buffer), "
    "after their day ends at {end}."
)
OPEN = (VisitStatus.SCHEDULED, VisitStatus.CONFIRMED)


@dataclass(frozen=True)
class Stop:
    location: optimizer.Location
    site: str | None
    overhead_min: int  # paid on arrival from another site


@dataclass(frozen=True)
class Leg:
    minutes: float
    km: float
    overhead_min: int

    @property
    def travel_min(self) -> int:
        """Rounded up, as in the optimiser's time matrix."""
        return math.ceil(self.minutes - 1e-9)

    @property
    def total_min(self) -> int:
        return self.travel_min + self.overhead_min


def stop_of(visit: Visit) -> Stop:
    return Stop(
        location=optimizer.Location(visit.lat, visit.lon),
        site=f"facility-{visit.facility_id}" if visit.facility_id else None,
        overhead_min=visit.facility.checkin_overhead_min if visit.facility_id else 0,
    )


def home_of(therapist: Therapist) -> Stop:
    return Stop(location=optimizer.Location(therapist.home_lat, therapist.home_lon), site=None, overhead_min=0)


def _legs(stops: list[Stop], speed_kmh: float) -> list[Leg]:
    """The leg into each stop after the first."""
    provider = travel_provider(locations=[s.location for s in stops])
    legs = []
    for a, b in zip(stops, stops[1:], strict=False):
        if a.site is not None and a.site == b.site:
            legs.append(Leg(0, 0.0, 0))
            continue
        minutes = provider.travel_min(a.location, b.location, speed_kmh)
        legs.append(Leg(minutes, round(provider.travel_km(a.location, b.location), 2), b.overhead_min))
    return legs


def visit_leg(*, before: Visit, after: Visit, speed_kmh: float) -> Leg:
    """From the end of ``before`` (its buffer over) to the start of ``after``."""
    return _legs([stop_of(before), stop_of(after)], speed_kmh)[0]


def _held_day(*, therapist: Therapist, day: dt.date, exclude_visit_id: int | None = None) -> list[Visit]:
    visits = Visit.objects.filter(therapist=therapist, date=day, status__in=ASSIGNED_STATUSES).select_related("facility")
    if exclude_visit_id is not None:
        visits = visits.exclude(pk=exclude_visit_id)
    return list(visits.order_by("planned_start", "pk"))


def _hhmm(moment: dt.datetime, tz) -> str:
    return moment.astimezone(tz).strftime("%H:%M")


def _overhead(leg: Leg) -> str:
    return f" + {leg.overhead_min} min check-in" if leg.overhead_min else ""


def travel_problems(
    *,
    visit: Visit,
    therapist: Therapist,
    planned_start: dt.datetime,
    busy_until: dt.datetime,
    shifts: list[tuple[dt.datetime, dt.datetime]],
) -> list[str]:
    """Why the therapist could not get to ``visit`` in time, or on from it; overlaps are reported elsewhere."""
    tz = visit.organization.tz
    day = _held_day(therapist=therapist, day=visit.date, exclude_visit_id=visit.pk)
    before = [v for v in day if v.planned_start < planned_start and v.planned_busy_until <= planned_start]
    after = [v for v in day if v.planned_start > planned_start and v.planned_start >= busy_until]
    previous, following = (before[-1] if before else None), (after[0] if after else None)
    here = stop_of(visit)
    origin = stop_of(previous) if previous else home_of(therapist)
    target = stop_of(following) if following else home_of(therapist)
    into, out = _legs([origin, here, target], therapist.speed_kmh)
    problems = []
    free = previous.planned_busy_until if previous else (shifts[0][0] if shifts else None)
    if free is not None and planned_start < free + dt.timedelta(minutes=into.total_min):
        earliest = free + dt.timedelta(minutes=into.total_min)
        names = {"therapist": therapist.pk, "free": _hhmm(free, tz), "travel": into.travel_min, "km": into.km,
                 "overhead": _overhead(into), "earliest": _hhmm(earliest, tz)}
        problems.append(FROM_PREVIOUS.format(other=previous.pk, **names) if previous else FROM_HOME.format(**names))
    back_at = busy_until + dt.timedelta(minutes=out.total_min)
    if following is not None and back_at > following.planned_start:
        problems.append(TO_NEXT.format(
            therapist=therapist.pk, other=following.pk, next_start=_hhmm(following.planned_start, tz),
            free=_hhmm(busy_until, tz), travel=out.travel_min, km=out.km, overhead=_overhead(out),
        ))
    elif following is None and shifts and back_at > shifts[-1][1]:
        problems.append(TO_HOME.format(
            therapist=therapist.pk, home_at=_hhmm(back_at, tz), travel=out.travel_min, km=out.km,
            end=_hhmm(shifts[-1][1], tz),
        ))
    return problems


def day_travel_refresh(*, therapist: Therapist, day: dt.date, by: User | None = None) -> None:
    """Store each open visit's travel from the stop before it (home for the first), after the day changed."""
    visits = _held_day(therapist=therapist, day=day)
    legs = _legs([home_of(therapist), *(stop_of(v) for v in visits)], therapist.speed_kmh)
    for visit, leg in zip(visits, legs, strict=True):
        # Stored as a plan's apply stores the optimiser's legs: minutes rounded, km to 0.01.
        stored = (round(leg.minutes), leg.km)
        if visit.status not in OPEN or (visit.planned_travel_min, visit.planned_travel_km) == stored:
            continue
        visit.planned_travel_min, visit.planned_travel_km = stored
        visit._change_reason = "travel from the previous stop updated"
        visit._history_user = by
        visit.save(update_fields=["planned_travel_min", "planned_travel_km", "updated_at"])
