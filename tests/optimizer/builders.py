"""Small builders for hand-checkable optimizer instances (no Django)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from optimizer import Break, Location, Problem, Route, Stop, Therapist, TimeWindow, Visit
from optimizer.solution import PlacedBreak

DEPOT = Location(0.0, 0.0)


def at(x: float) -> Location:
    """A point on a line, ``x`` minutes of travel east of the depot."""
    return Location(0.0, x / 100)


@dataclass(frozen=True)
class LineTravel:
    """Travel along a line: one minute and one km per 0.01 degree of longitude, any speed."""

    def travel_km(self, a: Location, b: Location) -> float:
        return abs(a.lon - b.lon) * 100

    def travel_min(self, a: Location, b: Location, speed_kmh: float | None = None) -> float:
        return abs(a.lon - b.lon) * 100


def therapist(id: str = "t1", *, shift: tuple[int, int] = (480, 1020), **fields) -> Therapist:
    return Therapist(id=id, start=DEPOT, end=DEPOT, shift_start_min=shift[0], shift_end_min=shift[1], **fields)


def visit(
    id: str, x: float = 10, *, windows: tuple[tuple[int, int], ...] = ((480, 1000),), duration: int = 30, **fields
) -> Visit:
    return Visit(id=id, location=at(x), duration_min=duration, windows=tuple(TimeWindow(*w) for w in windows), **fields)


def lunch(earliest: int = 720, latest: int = 780, duration: int = 30) -> Break:
    return Break(earliest, latest, duration)


def problem(therapists, visits) -> Problem:
    return Problem(tuple(therapists), tuple(visits), travel=LineTravel())


def earliest_route(problem: Problem, therapist: Therapist, visits: list[Visit]) -> Route:
    """Serve ``visits`` in order as early as possible, taking breaks in waiting time or when due."""
    travel = problem.travel
    pending = sorted(therapist.breaks, key=lambda b: b.earliest_start_min)
    placed: list[PlacedBreak] = []
    here, site, t = therapist.start, None, therapist.shift_start_min
    stops = []

    def take(b: Break, now: int) -> int:
        start = max(now, b.earliest_start_min)
        placed.append(PlacedBreak(start, start + b.duration_min))
        return start + b.duration_min

    for v in visits:
        leg = (
            0.0
            if v.site_id is not None and v.site_id == site
            else travel.travel_min(here, v.location, therapist.speed_kmh)
        )
        need = leg + (0 if v.site_id is not None and v.site_id == site else v.overhead_min)

        start = _start_after(v, t + need)
        while pending and (
            pending[0].latest_start_min < start + v.duration_min + v.buffer_min
            or max(t, pending[0].earliest_start_min) + pending[0].duration_min + need <= start
        ):
            t = take(pending.pop(0), t)
            start = max(start, _start_after(v, t + need))
        arrival = min(start, int(t + leg))
        stops.append(
            Stop(
                v.id,
                arrival,
                start,
                start + v.duration_min,
                leg,
                travel.travel_km(here, v.location),
                start + v.duration_min + v.buffer_min,
            )
        )
        here, site, t = v.location, v.site_id, start + v.duration_min + v.buffer_min
    while pending:
        t = take(pending.pop(0), t)
    back = travel.travel_min(here, therapist.end, therapist.speed_kmh)
    start = therapist.shift_start_min
    return Route(
        therapist.id,
        tuple(stops),
        tuple(placed),
        start,
        int(-(-(t + back) // 1)),
        sum(s.travel_min for s in stops) + back,
        0.0,
    )


def _start_after(v: Visit, ready: float) -> int:
    """The first minute from ``ready`` on at which ``v`` may start (``ready`` if no window is left)."""
    first = math.ceil(ready)
    later = [max(first, w.start_min) for w in sorted(v.windows, key=lambda w: w.start_min) if w.end_min >= first]
    return later[0] if later else first
