"""Re-plan the rest of today from the current plan, changing as little of it as the day allows.

The day plan's adapter builds the Problem for the whole day; a re-plan narrows it to "from now on":
each therapist starts at the place of their last started visit (or home), once that visit and its
buffer are over, and not before a reported delay has passed ("running 25 min late" at 10:00: free
from 10:25); no visit starts before now; visits already started, finished or called off leave
the problem. Booked visits carry their current therapist and time, so the optimiser pays for every
change, starts from the current plan and changes the concerned therapists' routes first
(``optimizer.replan``). The result is a proposal (a PlanRun of kind replan) with a diff in words
(``replan_diff``) that a coordinator applies in one step, or not.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.utils import timezone

import optimizer
from dispatch.exceptions import ConflictError
from dispatch.models import PlanKind, PlanRun, Therapist, Visit, VisitStatus
from dispatch.optimizer_adapter import (
    THERAPIST_PREFETCH,
    VISIT_PREFETCH,
    DayProblem,
    ExcludedVisit,
    local_midnight,
    minutes_after,
    minutes_after_up,
    problem_from_visits,
)
from dispatch.services.booking import therapist_shifts_on
from dispatch.services.plans import plan_run_create

if TYPE_CHECKING:
    from collections.abc import Iterable

    from dispatch.models import Organization, User

logger = logging.getLogger(__name__)

# Re-plans answer within seconds: first solution plus a short local search.
REPLAN_TIME_LIMIT_S = 1.5
STARTED_STATUSES = (VisitStatus.IN_PROGRESS, VisitStatus.COMPLETED)
OPEN_ASSIGNED = (VisitStatus.SCHEDULED, VisitStatus.CONFIRMED)
AVAILABILITY_CHANGED = (
    "Therapists' hours for {day} changed since re-plan {plan} was proposed; ask for a new re-plan."
)
DAY_AVAILABILITY_CHANGED = "Therapists' hours for {day} changed since plan {plan} was made; start a new plan."
WINDOW_PASSED = "Its last window closed before {now}; it cannot be seen today."
# Rules the narrowing itself breaks (the optimiser adds its own, see optimizer.warm_start).
PIN_THERAPIST_OFF = "absent"
PIN_TIME_PASSED = "pinned"


@dataclass(frozen=True)
class TherapistNow:
    """Where a therapist is and from when they are free, in minutes after local midnight."""

    therapist_id: int
    lat: float | None  # None: at home (the adapter's start location stands)
    lon: float | None
    free_from_min: int
    delay_min: int
    last_visit_id: int | None
    site_id: str | None = None  # the facility of the last visit: another visit there needs no check-in
    delay_until_min: int | None = None  # a reported delay's end: report time + minutes
    # When they leave where they are for the rest of the day: after a finished visit they have
    # been on the way since its buffer ended (before now, unlike free_from_min); before their
    # first visit, at the shift's start (0 here); else free_from_min.
    departs_min: int | None = None

    @property
    def leaves_min(self) -> int:
        return self.free_from_min if self.departs_min is None else self.departs_min


@dataclass(frozen=True)
class Narrowed:
    problem: optimizer.Problem
    passed: tuple[str, ...]  # visits whose every window closed before now
    conflicts: dict[str, str]  # pinned visit id -> the rule that already broke its pin


def due_visits(*, visits: Iterable[Visit], now: dt.datetime) -> set[int]:
    """Booked visits whose planned start has come with no check-in and no delay reported: the therapist is on
    the way there (or about to check in). A re-plan keeps them as they are, as if they began now; a late
    report moves its visit instead, and a no-show is the coordinator's to mark."""
    return {
        v.pk
        for v in visits
        if v.status in OPEN_ASSIGNED and v.therapist_id and v.planned_start and v.planned_start <= now
        and not v.delay_min
    }


def therapist_now_list(
    *,
    organization: Organization,
    day: dt.date,
    now: dt.datetime,
    visits: Iterable[Visit] | None = None,
    due: set[int] | None = None,
    therapist_id: int | None = None,
) -> dict[int, TherapistNow]:
    """For each therapist with visits on ``day``: their position and the minute they are free from.

    Free (never before now): once the session under way is over (it runs its full length from the
    real start, plus any recorded interruption), or the last finished visit's buffer has ended. A
    delay reported at ``t`` for ``m`` minutes means free no earlier than ``t + m`` (not on top of
    the session). ``departs_min`` is when the re-plan starts them: after a finished visit they
    have been on the way since its buffer ended, before the first one they leave at the shift's
    start (the re-plan's visits still start no earlier than now). A ``due`` visit (``due_visits``)
    counts as a session begun now at its place; a no-show whose time has come as one they leave now.
    ``therapist_id`` reads that therapist's day alone, when ``visits`` are not given.
    """
    midnight = dt.datetime.combine(day, dt.time(0), tzinfo=organization.tz)
    # The optimiser counts whole minutes: free at 11:53:25 is free at 11:54, never at 11:53.
    now_min = minutes_after_up(now, midnight)
    if visits is None:
        visits = Visit.objects.filter(organization=organization, date=day, therapist__isnull=False).select_related(
            "facility"
        )
        if therapist_id is not None:
            visits = visits.filter(therapist_id=therapist_id)
    by_therapist: dict[int, list[Visit]] = {}
    for visit in visits:
        if visit.therapist_id is not None:
            by_therapist.setdefault(visit.therapist_id, []).append(visit)
    due = due or set()
    states: dict[int, TherapistNow] = {}
    for therapist_id, own in by_therapist.items():
        # A no-show's therapist went to the door: they leave from there, now.
        no_shows = {v.pk for v in own if v.status == VisitStatus.NO_SHOW and v.planned_start and v.planned_start <= now}
        started = [v for v in own if v.status in STARTED_STATUSES or v.pk in due or v.pk in no_shows]
        delayed = [v for v in own if v.delay_min and v.status in (*OPEN_ASSIGNED, VisitStatus.IN_PROGRESS)]
        delay_until = max(
            (minutes_after_up(v.delay_reported_at or now, midnight) + v.delay_min for v in delayed), default=None
        )
        busy_until, last = 0, None
        if started:
            last = max(started, key=lambda v: v.actual_start or v.planned_start)
            if last.pk in due:
                # On the way: the session begins at the latest now, and runs its full length from then.
                late_by = max(now - last.planned_start, dt.timedelta(0))
                busy_until = minutes_after_up(last.planned_busy_until + late_by, midnight)
            elif last.pk in no_shows:
                busy_until = now_min
            elif last.status == VisitStatus.IN_PROGRESS:
                late_by = (last.actual_start - last.planned_start) if last.actual_start else dt.timedelta(0)
                busy_until = minutes_after_up(last.planned_busy_until + max(late_by, dt.timedelta(0)), midnight)
            else:
                buffer = dt.timedelta(minutes=last.effective_buffer_min)
                busy_until = minutes_after_up((last.actual_end or last.planned_end) + buffer, midnight)
        free_from = max(now_min, busy_until, delay_until or 0)
        in_session = last is not None and (last.status == VisitStatus.IN_PROGRESS or last.pk in due)
        states[therapist_id] = TherapistNow(
            therapist_id=therapist_id,
            lat=last.lat if last else None,
            lon=last.lon if last else None,
            free_from_min=free_from,
            delay_min=max((v.delay_min for v in delayed), default=0),
            last_visit_id=last.pk if last else None,
            site_id=f"facility-{last.facility_id}" if last and last.facility_id else None,
            delay_until_min=delay_until,
            departs_min=free_from if in_session else max(busy_until, delay_until or 0),
        )
    return states


def replan_problem(
    *,
    problem: optimizer.Problem,
    states: dict[Any, TherapistNow],
    now_min: int,
    settled_visit_ids: set[Any],
    current: dict[Any, tuple[Any, int]] | None = None,
    not_before: dict[Any, int] | None = None,
) -> Narrowed:
    """Narrow a whole-day problem to the rest of the day (pure: optimizer dataclasses in and out).

    ``current`` maps booked visits to (therapist, start minute) of the current plan;
    ``not_before`` holds visits that may not start before a minute (the one a late therapist is
    heading to).
    """
    by_id = {str(k): v for k, v in states.items()}
    current_of = {str(k): (str(t), start) for k, (t, start) in (current or {}).items()}
    floors = {str(k): m for k, m in (not_before or {}).items()}
    settled = {str(v) for v in settled_visit_ids}
    therapists = []
    for t in problem.therapists:
        state = by_id.get(t.id)
        start_min = max(t.shift_start_min, state.leaves_min if state else now_min)
        for b in sorted(t.breaks, key=lambda b: b.latest_start_min):
            # Free inside a gap between two shift periods (the adapter's fixed break): work resumes at its end.
            # Dropping the break as passed would open the gap to visits.
            if b.earliest_start_min == b.latest_start_min < start_min < b.latest_start_min + b.duration_min:
                start_min = b.latest_start_min + b.duration_min
        if start_min >= t.shift_end_min:
            continue  # No time left today: their visits look for another therapist.
        changes: dict[str, Any] = {"shift_start_min": start_min}
        if state and state.lat is not None:
            changes["start"] = optimizer.Location(state.lat, state.lon)
            changes["start_site_id"] = state.site_id
        changes["breaks"] = tuple(
            dataclasses.replace(b, earliest_start_min=max(b.earliest_start_min, start_min))
            for b in t.breaks
            if b.latest_start_min >= start_min
        )
        therapists.append(dataclasses.replace(t, **changes))
    working = {t.id for t in therapists}
    visits, passed, conflicts = [], [], {}
    for v in problem.visits:
        if v.id in settled:
            continue
        floor = max(now_min, floors.get(v.id, 0))
        windows = tuple(
            optimizer.TimeWindow(max(w.start_min, floor), w.end_min) for w in v.windows if w.end_min > floor
        )
        if not windows:
            passed.append(v.id)
            continue
        changes = {
            "windows": windows,
            # Therapists with no time left are out of the problem, and out of its lists.
            "allowed_therapists": None if v.allowed_therapists is None else v.allowed_therapists & working,
            "forbidden_therapists": v.forbidden_therapists & working,
            "preferred_therapists": v.preferred_therapists & working,
        }
        if v.pinned_therapist is not None and v.pinned_therapist not in working:
            changes |= {"pinned_therapist": None, "pinned_start_min": None}
            conflicts[v.id] = PIN_THERAPIST_OFF
        elif v.pinned_start_min is not None and all(
            not w.start_min <= v.pinned_start_min <= w.end_min for w in windows
        ):
            changes["pinned_start_min"] = None  # The pinned minute has passed: keep the therapist.
            conflicts[v.id] = PIN_TIME_PASSED
        if v.id in current_of:
            changes["current_therapist"], changes["current_start_min"] = current_of[v.id]
        visits.append(dataclasses.replace(v, **changes))
    narrowed = dataclasses.replace(problem, therapists=tuple(therapists), visits=tuple(visits))
    return Narrowed(problem=narrowed, passed=tuple(passed), conflicts=conflicts)


def availability_fingerprint(
    *, organization: Organization, day: dt.date, therapists: Iterable[Therapist] | None = None
) -> str:
    """Every active therapist's working periods and breaks on ``day``: a proposal is stale when they change."""
    if therapists is None:
        therapists = Therapist.objects.filter(organization=organization, active=True).prefetch_related(
            "weekly_availability", "availability_exceptions", "breaks"
        )
    parts = []
    for t in sorted(therapists, key=lambda t: t.pk):
        shifts = ",".join(f"{s.isoformat()}/{e.isoformat()}" for s, e in therapist_shifts_on(therapist=t, day=day))
        breaks = ",".join(f"{b.earliest_start}-{b.latest_start}-{b.duration_min}" for b in t.breaks.all())
        parts.append(f"{t.pk}:{shifts}:{breaks}")
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


def replan_build(*, run: PlanRun) -> tuple[DayProblem, list[Visit], dict[str, Any]]:
    """The day's problem from the adapter, narrowed to the rest of the day from the run's "now"."""
    organization, day = run.organization, run.date
    now = dt.datetime.fromisoformat(run.parameters["now"])
    midnight = local_midnight(organization=organization, day=day)
    # One read of the day: the open visits are the problem, the started ones say where everyone is.
    day_visits = list(
        Visit.objects.filter(organization=organization, date=day)
        .exclude(status=VisitStatus.CANCELLED)  # a no-show says where its therapist is (therapist_now_list)
        .select_related("facility", "patient", "organization", "therapist")
        .prefetch_related(*VISIT_PREFETCH)
    )
    # A visit the therapist is on the way to stays as it is: out of the problem (its time is held, see the
    # adapter's _held_elsewhere) and out of the proposal, so applying it neither moves nor unbooks it.
    due = due_visits(visits=day_visits, now=now)
    open_visits = [v for v in day_visits if v.status in (*OPEN_ASSIGNED, VisitStatus.REQUESTED) and v.pk not in due]
    therapists = list(
        Therapist.objects.filter(organization=organization, active=True).prefetch_related(*THERAPIST_PREFETCH)
    )
    day_problem = problem_from_visits(organization=organization, day=day, visits=open_visits, therapists=therapists)
    states = therapist_now_list(organization=organization, day=day, now=now, visits=day_visits, due=due)
    booked = sorted(
        (v for v in open_visits if v.therapist_id and v.planned_start and v.status in OPEN_ASSIGNED),
        key=lambda v: (v.planned_start, v.pk),
    )
    # The visit a late therapist reported on is the one they are heading to.
    not_before = {
        v.pk: minutes_after_up(v.delay_reported_at or now, midnight) + v.delay_min for v in booked if v.delay_min
    }
    narrowed = replan_problem(
        problem=day_problem.problem,
        states=states,
        now_min=minutes_after_up(now, midnight),
        settled_visit_ids=set(),
        current={v.pk: (v.therapist_id, minutes_after(v.planned_start, midnight)) for v in booked},
        not_before=not_before,
    )
    current_routes: dict[str, list[str]] = {}
    for v in booked:
        current_routes.setdefault(str(v.therapist_id), []).append(str(v.pk))
    hhmm = now.astimezone(organization.tz).strftime("%H:%M")
    passed = tuple(ExcludedVisit(vid, "window_passed", WINDOW_PASSED.format(now=hhmm)) for vid in narrowed.passed)
    extra = {
        "therapists_now": [dataclasses.asdict(s) for s in states.values()],
        "current_routes": current_routes,
        "conflicts_before": narrowed.conflicts,
        "availability": availability_fingerprint(organization=organization, day=day, therapists=therapists),
    }
    day_problem = dataclasses.replace(day_problem, problem=narrowed.problem, excluded=day_problem.excluded + passed)
    return day_problem, open_visits, extra


def replan_solve(*, run: PlanRun, day_problem: DayProblem, extra: dict[str, Any]) -> optimizer.Solution:
    """Local first: the concerned therapists' routes, then only what must move (``optimizer.replan``)."""
    params = run.parameters
    options = optimizer.Options(
        time_limit_s=params.get("time_limit_s", settings.ROUNDS_REPLAN_TIME_LIMIT_S), seed=params.get("seed", 0)
    )
    result = optimizer.replan(
        day_problem.problem,
        current_routes=extra["current_routes"],
        concerned=[str(t) for t in params.get("concerned", [])],
        placing=[str(v) for v in params.get("placing", [])],
        options=options,
    )
    extra["replan"] = {
        "scope": result.scope,
        "local_therapists": [int(t) for t in result.local_therapists],
        "rehomed": [int(v) for v in result.rehomed],
        "broken": {
            vid: {"rule": b.rule, "therapist": int(b.therapist_id), "at_min": b.at_min}
            for vid, b in result.kept.broken.items()
        },
        "conflicts": {**extra.pop("conflicts_before", {}), **result.conflicts},
        "current_travel_min": round(result.current_travel_min, 1),
    }
    return result.solution


def replan_propose(
    *,
    organization: Organization,
    day: dt.date | None = None,
    now: dt.datetime | None = None,
    by: User | None = None,
    trigger: str = "coordinator",
    concerned: Iterable[int] = (),
    placing: Iterable[int] = (),
) -> PlanRun:
    """Solve the rest of ``day`` from ``now`` and keep it as a proposal with its difference from the plan.

    ``concerned``: therapists the report is about (their routes change first); ``placing``: new
    visits to find a home for (an urgent request).
    """
    now = now or timezone.now()
    day = day or now.astimezone(organization.tz).date()
    return plan_run_create(
        organization=organization, day=day, created_by=by, kind=PlanKind.REPLAN,
        time_limit_s=settings.ROUNDS_REPLAN_TIME_LIMIT_S,
        extra_parameters={
            "now": now.isoformat(), "trigger": trigger,
            "concerned": sorted(set(concerned)), "placing": sorted(set(placing)),
        },
    )


def replan_latest(*, organization: Organization, trigger: str) -> PlanRun | None:
    """The newest re-plan proposed for ``trigger`` ("interruption:12"), for answering a report sent twice."""
    return (
        PlanRun.objects.filter(organization=organization, kind=PlanKind.REPLAN, parameters__trigger=trigger)
        .order_by("-created_at", "-pk")
        .first()
    )


def replan_after_called_off(*, visit: Visit, by: User | None, now: dt.datetime | None = None) -> PlanRun | None:
    """A booked visit of today cancelled or marked a no-show frees its therapist's time: a proposal that
    re-plans that therapist's day first (the freed time may take a waiting request), as a late report's
    does. None for a request nobody was booked for, or a visit of another day (no day under way to re-plan)."""
    now = now or timezone.now()
    today = now.astimezone(visit.organization.tz).date()
    if visit.therapist_id is None or visit.planned_start is None or visit.date != today:
        return None
    return replan_propose(
        organization=visit.organization, day=visit.date, now=now, by=by,
        trigger=f"{visit.status}:{visit.pk}", concerned=[visit.therapist_id],
    )


def replan_hours_check(*, run: PlanRun) -> None:
    """Refuse (409) a re-plan or day plan made before a therapist's hours for its day changed (someone went home,
    time off entered, a therapist switched off): applied, it would book them when they are not working."""
    stored = (run.result or {}).get("availability")
    if stored and stored != availability_fingerprint(organization=run.organization, day=run.date):
        message = AVAILABILITY_CHANGED if run.kind == PlanKind.REPLAN else DAY_AVAILABILITY_CHANGED
        raise ConflictError(message.format(day=run.date, plan=run.pk))
