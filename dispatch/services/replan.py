"""Re-plan the rest of today: finished and started visits stay, everyone starts from where they are.

The day plan's adapter builds the Problem for the whole day; a re-plan narrows it to "from now on":
each therapist starts at the place of their last started visit (or home), once that visit and its
buffer are over and their reported delay has passed; visits already started, finished or called
off leave the problem; urgent same-day requests are in it like any open request.
The result is a proposal (a PlanRun of kind replan) that a coordinator applies in one step.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.utils import timezone

import optimizer
from dispatch.models import PlanKind, PlanRun, Therapist, Visit, VisitStatus
from dispatch.exceptions import ConflictError
from dispatch.optimizer_adapter import (
    THERAPIST_PREFETCH,
    VISIT_PREFETCH,
    DayProblem,
    local_midnight,
    minutes_after,
    problem_from_visits,
)
from dispatch.services.plans import plan_run_apply, plan_run_create

if TYPE_CHECKING:
    from dispatch.models import Organization, User

logger = logging.getLogger(__name__)

# Re-plans answer within seconds: first solution plus a short local search.
REPLAN_TIME_LIMIT_S = 1.5
STARTED_STATUSES = (VisitStatus.IN_PROGRESS, VisitStatus.COMPLETED)
OPEN_ASSIGNED = (VisitStatus.SCHEDULED, VisitStatus.CONFIRMED)
NOT_APPLICABLE = "Plan {plan} is a {kind} run that is {status}; only a succeeded re-plan not yet applied can be applied."


@dataclass(frozen=True)
class TherapistNow:
    """Where a therapist is and from when they are free, in minutes after local midnight."""

    therapist_id: int
    lat: float | None  # None: at home (the adapter's start location stands)
    lon: float | None
    free_from_min: int
    delay_min: int
    last_visit_id: int | None


def therapist_now_list(*, organization: Organization, day: dt.date, now: dt.datetime) -> dict[int, TherapistNow]:
    """For each therapist with visits on ``day``: their position and the minute they are free from."""
    midnight = dt.datetime.combine(day, dt.time(0), tzinfo=organization.tz)
    now_min = minutes_after(now, midnight)
    visits = Visit.objects.filter(organization=organization, date=day, therapist__isnull=False).select_related(
        "facility"
    )
    by_therapist: dict[int, list[Visit]] = {}
    for visit in visits:
        by_therapist.setdefault(visit.therapist_id, []).append(visit)
    states: dict[int, TherapistNow] = {}
    for therapist_id, own in by_therapist.items():
        started = [v for v in own if v.status in STARTED_STATUSES]
        delay = max((v.delay_min for v in own if v.status in (*OPEN_ASSIGNED, VisitStatus.IN_PROGRESS)), default=0)
        free_from, last = now_min, None
        if started:
            last = max(started, key=lambda v: v.actual_start or v.planned_start)
            buffer = dt.timedelta(minutes=last.effective_buffer_min)
            if last.status == VisitStatus.IN_PROGRESS:
                # The session runs its full length from the real start, plus any recorded interruption.
                late_by = (last.actual_start - last.planned_start) if last.actual_start else dt.timedelta(0)
                expected_free = last.planned_busy_until + max(late_by, dt.timedelta(0))
            else:
                expected_free = (last.actual_end or last.planned_end) + buffer
            free_from = max(now_min, minutes_after(expected_free, midnight))
        states[therapist_id] = TherapistNow(
            therapist_id=therapist_id,
            lat=last.lat if last else None,
            lon=last.lon if last else None,
            free_from_min=free_from + delay,
            delay_min=delay,
            last_visit_id=last.pk if last else None,
        )
    return states


def replan_problem(
    *,
    problem: optimizer.Problem,
    states: dict[Any, TherapistNow],
    now_min: int,
    settled_visit_ids: set[Any],
    current: dict[Any, Any] | None = None,
) -> optimizer.Problem:
    """Narrow a whole-day problem to the rest of the day (pure: optimizer dataclasses in and out)."""
    by_id = {str(k): v for k, v in states.items()}
    # Keeping a visit with its current therapist costs nothing; moving it costs the continuity cost.
    current_of = {str(k): str(v) for k, v in (current or {}).items()}
    settled = {str(v) for v in settled_visit_ids}
    therapists = []
    free_from: dict[str, int] = {}
    for t in problem.therapists:
        state = by_id.get(t.id)
        start_min = max(t.shift_start_min, state.free_from_min if state else now_min)
        if start_min >= t.shift_end_min:
            continue  # No time left today: their open visits go back to the pool.
        changes: dict[str, Any] = {"shift_start_min": start_min}
        if state and state.lat is not None:
            changes["start"] = optimizer.Location(state.lat, state.lon)
        changes["breaks"] = tuple(
            dataclasses.replace(b, earliest_start_min=max(b.earliest_start_min, start_min))
            for b in t.breaks
            if b.latest_start_min >= start_min
        )
        therapists.append(dataclasses.replace(t, **changes))
        free_from[t.id] = start_min
    visits = []
    left = frozenset(free_from)
    for v in problem.visits:
        if v.id in settled:
            continue
        # A therapist with no time left is out of the problem: no visit may still name them.
        if not ((v.allowed_therapists or frozenset()) | v.forbidden_therapists | v.preferred_therapists) <= left:
            v = dataclasses.replace(
                v,
                allowed_therapists=None if v.allowed_therapists is None else v.allowed_therapists & left,
                forbidden_therapists=v.forbidden_therapists & left,
                preferred_therapists=v.preferred_therapists & left,
            )
        if v.pinned_therapist is not None and v.pinned_therapist not in free_from:
            v = dataclasses.replace(v, pinned_therapist=None, pinned_start_min=None)
        elif v.pinned_start_min is not None and v.pinned_start_min < free_from.get(v.pinned_therapist, now_min):
            # A pinned time that has become unreachable keeps its therapist and lets the time move.
            v = dataclasses.replace(v, pinned_start_min=None)
        if current_of.get(v.id) in free_from:
            v = dataclasses.replace(v, preferred_therapists=frozenset({current_of[v.id]}))
        visits.append(v)
    return dataclasses.replace(problem, therapists=tuple(therapists), visits=tuple(visits))


def plan_diff(*, visits: list[Visit], solution: dict[str, Any], midnight: dt.datetime) -> dict[str, list[dict]]:
    """What applying ``solution`` would change: moved, reassigned, dropped (with reasons) and added visits."""
    placed = {
        int(stop["visit_id"]): (int(route["therapist_id"]), stop["start_min"])
        for route in solution.get("routes", [])
        for stop in route["stops"]
    }
    reasons = {int(u["visit_id"]): u for u in solution.get("unassigned", [])}
    diff: dict[str, list[dict]] = {"moved": [], "reassigned": [], "dropped": [], "added": []}
    for visit in visits:
        old_start = visit.planned_start.astimezone(midnight.tzinfo).isoformat() if visit.planned_start else None
        if visit.pk in placed:
            therapist_id, start_min = placed[visit.pk]
            new_start = (midnight + dt.timedelta(minutes=start_min)).isoformat()
            if visit.therapist_id is None:
                diff["added"].append({"visit": visit.pk, "therapist": therapist_id, "start": new_start})
                continue
            if therapist_id != visit.therapist_id:
                diff["reassigned"].append(
                    {"visit": visit.pk, "from_therapist": visit.therapist_id, "to_therapist": therapist_id,
                     "old_start": old_start, "new_start": new_start}
                )
            elif visit.planned_start != midnight + dt.timedelta(minutes=start_min):
                diff["moved"].append(
                    {"visit": visit.pk, "therapist": therapist_id, "old_start": old_start, "new_start": new_start}
                )
        elif visit.pk in reasons and visit.therapist_id is not None:
            diff["dropped"].append(
                {"visit": visit.pk, "therapist": visit.therapist_id, "old_start": old_start,
                 "code": reasons[visit.pk]["code"], "reason": reasons[visit.pk]["reason"]}
            )
    return diff


def replan_build(*, run: PlanRun) -> tuple[DayProblem, list[Visit], dict[str, Any]]:
    """The day's problem from the adapter, narrowed to the rest of the day from the run's "now"."""
    organization, day = run.organization, run.date
    now = dt.datetime.fromisoformat(run.parameters["now"])
    midnight = local_midnight(organization=organization, day=day)
    open_visits = list(
        Visit.objects.filter(organization=organization, date=day, status__in=(*OPEN_ASSIGNED, VisitStatus.REQUESTED))
        .select_related("facility", "patient", "organization")
        .prefetch_related(*VISIT_PREFETCH)
    )
    therapists = Therapist.objects.filter(organization=organization, active=True).prefetch_related(
        *THERAPIST_PREFETCH
    )
    day_problem = problem_from_visits(organization=organization, day=day, visits=open_visits, therapists=therapists)
    states = therapist_now_list(organization=organization, day=day, now=now)
    problem = replan_problem(
        problem=day_problem.problem,
        states=states,
        now_min=minutes_after(now, midnight),
        settled_visit_ids=set(),
        current={v.pk: v.therapist_id for v in open_visits if v.therapist_id},
    )
    extra = {"therapists_now": [dataclasses.asdict(s) for s in states.values()]}
    return dataclasses.replace(day_problem, problem=problem), open_visits, extra


def replan_propose(
    *, organization: Organization, day: dt.date | None = None, now: dt.datetime | None = None, by: User | None = None,
    trigger: str = "coordinator",
) -> PlanRun:
    """Solve the rest of ``day`` from ``now`` and keep it as a proposal with its difference from the plan."""
    now = now or timezone.now()
    day = day or now.astimezone(organization.tz).date()
    return plan_run_create(
        organization=organization, day=day, created_by=by, kind=PlanKind.REPLAN,
        time_limit_s=settings.ROUNDS_REPLAN_TIME_LIMIT_S,
        extra_parameters={"now": now.isoformat(), "trigger": trigger},
    )


def replan_apply(*, run: PlanRun, by: User, drop_booked: bool = False) -> PlanRun:
    """Apply a proposal in one step, or refuse (409) if any visit it read has changed since
    or if it would unbook booked visits without ``drop_booked``."""
    if run.kind != PlanKind.REPLAN:
        raise ConflictError(NOT_APPLICABLE.format(plan=run.pk, kind=run.kind, status=run.status))
    return plan_run_apply(plan_run=run, applied_by=by, drop_booked=drop_booked)
