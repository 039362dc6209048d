"""The day as it runs: which booked visits are late now, and which a running delay puts at risk.

Late: booked, not checked in, and ``late_after`` past its planned start. At risk: not started yet,
and the therapist's current delay (a late start, a reported delay, an overrun session) carried down
their route with each leg's planned travel makes it end outside every window it may take place in.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from dispatch.models import VisitStatus

if TYPE_CHECKING:
    from dispatch.models import Visit


class LiveState:
    CHECKED_IN = "checked_in"
    DONE = "done"
    LATE = "late"
    AT_RISK = "at_risk"


@dataclass(frozen=True)
class VisitLive:
    state: str | None
    expected_start: dt.datetime | None  # when the running day says it can start, if not started yet
    late_by_min: int = 0  # how far the expected start is past the planned one


def _fits_a_window(visit: Visit, start: dt.datetime) -> bool:
    end = start + dt.timedelta(minutes=visit.duration_min)
    windows = list(visit.windows.all())
    return not windows or any(w.start <= start and end <= w.end for w in windows)


def visit_live_states(
    *, visits: Iterable[Visit], now: dt.datetime, late_after: dt.timedelta
) -> dict[int, VisitLive]:
    """One therapist's visits of one day, in planned order (prefetch ``windows``): each visit's live state."""
    states: dict[int, VisitLive] = {}
    free_at: dt.datetime | None = None  # when the therapist is expected to be free of the previous visit
    for v in sorted(visits, key=lambda v: v.planned_start):
        buffer = dt.timedelta(minutes=v.effective_buffer_min)
        duration = dt.timedelta(minutes=v.duration_min)
        if v.status == VisitStatus.COMPLETED:
            states[v.pk] = VisitLive(LiveState.DONE, None)
            free_at = (v.actual_end or v.planned_end) + buffer
            continue
        if v.status == VisitStatus.IN_PROGRESS:
            states[v.pk] = VisitLive(LiveState.CHECKED_IN, None)
            started = v.actual_start or v.planned_start
            free_at = max(v.planned_busy_until, started + duration + buffer)
            continue
        if v.status not in (VisitStatus.SCHEDULED, VisitStatus.CONFIRMED):
            continue
        expected = v.planned_start + dt.timedelta(minutes=v.delay_min)
        if free_at is not None:
            expected = max(expected, free_at + dt.timedelta(minutes=v.planned_travel_min or 0))
        if now >= v.planned_start + late_after:
            # Not checked in yet: it cannot start before now.
            state = LiveState.LATE
            expected = max(expected, now)
        elif not _fits_a_window(v, expected):
            state = LiveState.AT_RISK
        else:
            state = None
        late_by = max(0, round((expected - v.planned_start).total_seconds() / 60))
        states[v.pk] = VisitLive(state, expected, late_by)
        free_at = expected + duration + buffer
    return states
