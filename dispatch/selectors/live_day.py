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


@dataclass(frozen=True)
class LiveVisit:
    """What the live marks read of a booked visit: small enough to keep with a cached board row, so that the
    marks, which move with the clock, are made at each read and the row is not built again every minute."""

    pk: int
    status: str
    planned_start: dt.datetime
    planned_end: dt.datetime
    planned_busy_until: dt.datetime
    planned_travel_min: int | None
    duration_min: int
    buffer_min: int
    delay_min: int
    actual_start: dt.datetime | None
    actual_end: dt.datetime | None
    windows: tuple[tuple[dt.datetime, dt.datetime], ...]

    @classmethod
    def of(cls, visit: Visit) -> LiveVisit:
        """From a visit with its facility and prefetched ``windows``."""
        return cls(
            pk=visit.pk, status=visit.status, planned_start=visit.planned_start, planned_end=visit.planned_end,
            planned_busy_until=visit.planned_busy_until, planned_travel_min=visit.planned_travel_min,
            duration_min=visit.duration_min, buffer_min=visit.effective_buffer_min, delay_min=visit.delay_min,
            actual_start=visit.actual_start, actual_end=visit.actual_end,
            windows=tuple((w.start, w.end) for w in visit.windows.all()),
        )


# What a visit's status alone says, whatever the clock: the board's data carries these; the rest move with the clock.
STATUS_STATES = {VisitStatus.COMPLETED: LiveState.DONE, VisitStatus.IN_PROGRESS: LiveState.CHECKED_IN}
CLOCK_STATES = (LiveState.LATE, LiveState.AT_RISK)
# Booked and still to start: the visits that can be late or at risk.
WAITING = (VisitStatus.SCHEDULED, VisitStatus.CONFIRMED)


def _fits_a_window(visit: LiveVisit, start: dt.datetime) -> bool:
    end = start + dt.timedelta(minutes=visit.duration_min)
    return not visit.windows or any(w_start <= start and end <= w_end for w_start, w_end in visit.windows)


def _late_from(visit: LiveVisit, late_after: dt.timedelta) -> dt.datetime:
    """When a visit not checked in counts as late (a reported delay changes its expected start, not this)."""
    return visit.planned_start + late_after


def visit_live_states(
    *, visits: Iterable[Visit | LiveVisit], now: dt.datetime, late_after: dt.timedelta
) -> dict[int, VisitLive]:
    """One therapist's visits of one day (prefetch ``windows``), or what a cached row keeps of them: each
    visit's live state."""
    states: dict[int, VisitLive] = {}
    free_at: dt.datetime | None = None  # when the therapist is expected to be free of the previous visit
    live = [v if isinstance(v, LiveVisit) else LiveVisit.of(v) for v in visits]
    for v in sorted(live, key=lambda v: v.planned_start):
        buffer = dt.timedelta(minutes=v.buffer_min)
        duration = dt.timedelta(minutes=v.duration_min)
        if v.status == VisitStatus.COMPLETED:
            states[v.pk] = VisitLive(STATUS_STATES[v.status], None)
            free_at = (v.actual_end or v.planned_end) + buffer
            continue
        if v.status == VisitStatus.IN_PROGRESS:
            states[v.pk] = VisitLive(STATUS_STATES[v.status], None)
            started = v.actual_start or v.planned_start
            free_at = max(v.planned_busy_until, started + duration + buffer)
            continue
        if v.status not in WAITING:
            continue
        expected = v.planned_start + dt.timedelta(minutes=v.delay_min)
        if free_at is not None:
            expected = max(expected, free_at + dt.timedelta(minutes=v.planned_travel_min or 0))
        if now >= _late_from(v, late_after):
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


def live_states_hold_until(
    *, visits: Iterable[LiveVisit], states: dict[int, VisitLive], now: dt.datetime, late_after: dt.timedelta
) -> dt.datetime | None:
    """Until when visit_live_states(visits, now) stays as it is while only the clock moves (None: for good). It
    reads the clock only where a visit is late (it cannot start before now, so its expected start, and every later
    visit's, moves each minute); otherwise nothing moves until the next waiting visit turns late."""
    if any(live.state == LiveState.LATE for live in states.values()):
        return now.replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
    turns = [_late_from(v, late_after) for v in visits if v.status in WAITING and _late_from(v, late_after) > now]
    return min(turns, default=None)
