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
from django.db import transaction
from django.utils import timezone

import optimizer
from dispatch.models import PlanKind, PlanRun, PlanStatus, Priority, Therapist, Visit, VisitStatus
from dispatch.selectors.buffers import suggested_buffer_map
from dispatch.exceptions import ConflictError
from dispatch.services.booking import no_double_booking_check_now, therapist_shifts_on
from dispatch.services.visit_status import visit_transition

if TYPE_CHECKING:
    from dispatch.models import Organization, User

logger = logging.getLogger(__name__)

# Re-plans answer within seconds: first solution plus a short local search.
REPLAN_TIME_LIMIT_S = 1.5
PRIORITY = {Priority.ROUTINE: optimizer.Priority.ROUTINE, Priority.SOON: optimizer.Priority.SOON,
            Priority.URGENT: optimizer.Priority.URGENT}
STARTED_STATUSES = (VisitStatus.IN_PROGRESS, VisitStatus.COMPLETED)
OPEN_ASSIGNED = (VisitStatus.SCHEDULED, VisitStatus.CONFIRMED)
NOT_APPLICABLE = "Plan {plan} is a {kind} run that is {status}; only a succeeded re-plan not yet applied can be applied."
STALE = "Visits {visits} changed since plan {plan} was proposed; ask for a new re-plan."


@dataclass(frozen=True)
class TherapistNow:
    """Where a therapist is and from when they are free, in minutes after local midnight."""

    therapist_id: int
    lat: float | None  # None: at home (the adapter's start location stands)
    lon: float | None
    free_from_min: int
    delay_min: int
    last_visit_id: int | None


def _minutes(moment: dt.datetime, midnight: dt.datetime) -> int:
    return max(0, round((moment - midnight).total_seconds() / 60))


def therapist_now_list(*, organization: Organization, day: dt.date, now: dt.datetime) -> dict[int, TherapistNow]:
    """For each therapist with visits on ``day``: their position and the minute they are free from."""
    midnight = dt.datetime.combine(day, dt.time(0), tzinfo=organization.tz)
    now_min = _minutes(now, midnight)
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
            free_from = max(now_min, _minutes(expected_free, midnight))
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
    for v in problem.visits:
        if v.id in settled:
            continue
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


def _day_problem(*, organization: Organization, day: dt.date, visits: list[Visit]) -> optimizer.Problem:
    """Stand-in for the day plan's adapter (problem_from_visits), limited to what a re-plan needs."""
    midnight = dt.datetime.combine(day, dt.time(0), tzinfo=organization.tz)
    buffers = suggested_buffer_map(organization=organization)
    therapists = []
    for t in Therapist.objects.filter(organization=organization, active=True).prefetch_related(
        "skills", "breaks", "credentials"
    ):
        shifts = therapist_shifts_on(therapist=t, day=day)
        if not shifts:
            continue
        home = optimizer.Location(t.home_lat, t.home_lon)
        therapists.append(
            optimizer.Therapist(
                id=str(t.pk),
                start=home,
                end=home,
                shift_start_min=_minutes(shifts[0][0], midnight),
                shift_end_min=min(_minutes(shifts[-1][1], midnight), 24 * 60),
                breaks=tuple(
                    optimizer.Break(
                        earliest_start_min=b.earliest_start.hour * 60 + b.earliest_start.minute,
                        latest_start_min=b.latest_start.hour * 60 + b.latest_start.minute,
                        duration_min=b.duration_min,
                    )
                    for b in t.breaks.all()
                ),
                skills=frozenset(s.code for s in t.skills.all()),
                max_visits=t.max_visits_per_day,
                max_working_min=t.max_working_minutes_per_day,
                speed_kmh=t.speed_kmh,
            )
        )
    credentials = {
        t.pk: {c.credential_type_id for c in t.credentials.all() if c.expires_on is None or c.expires_on >= day}
        for t in Therapist.objects.filter(organization=organization).prefetch_related("credentials")
    }
    known = {t.id for t in therapists}
    problem_visits = []
    for v in visits:
        windows = tuple(
            optimizer.TimeWindow(_minutes(w.start, midnight), min(_minutes(w.end, midnight), 24 * 60))
            for w in v.windows.all()
        ) or (optimizer.TimeWindow(0, 24 * 60),)
        required = {c.pk for c in v.facility.required_credentials.all()} if v.facility_id else set()
        allowed = frozenset(str(t) for t, held in credentials.items() if required <= held and str(t) in known)
        pinned_therapist = str(v.therapist_id) if (v.pinned or v.status == VisitStatus.CONFIRMED) else None
        pinned_start = _minutes(v.planned_start, midnight) if v.pinned and v.planned_start else None
        if pinned_start is not None and not any(w.start_min <= pinned_start <= w.end_min for w in windows):
            pinned_start = None
        problem_visits.append(
            optimizer.Visit(
                id=str(v.pk),
                location=optimizer.Location(v.lat, v.lon),
                duration_min=v.duration_min,
                windows=windows,
                buffer_min=v.buffer_min if v.buffer_min is not None else (
                    v.facility.buffer_min if v.facility_id and v.facility.default_buffer_min is not None
                    else buffers[v.care_setting]
                ),
                required_skills=frozenset(s.code for s in v.required_skills.all()),
                allowed_therapists=allowed if required else None,
                forbidden_therapists=frozenset(str(t.pk) for t in v.patient.excluded_therapists.all()) & known,
                preferred_therapists=frozenset(str(t.pk) for t in v.patient.preferred_therapists.all()) & known,
                priority=PRIORITY[Priority(v.priority)],
                pinned_therapist=pinned_therapist if pinned_therapist in known else None,
                pinned_start_min=pinned_start if pinned_therapist in known else None,
                site_id=str(v.facility_id) if v.facility_id else None,
                overhead_min=v.facility.checkin_overhead_min if v.facility_id else 0,
            )
        )
    travel = optimizer.GeodesicTravel(detour_factor=settings.ROUNDS_DETOUR_FACTOR)
    return optimizer.Problem(therapists=tuple(therapists), visits=tuple(problem_visits), travel=travel)


def _replan_solve(*, run: PlanRun, organization: Organization, day: dt.date, now: dt.datetime, time_limit_s: float) -> None:
    midnight = dt.datetime.combine(day, dt.time(0), tzinfo=organization.tz)
    open_visits = list(
        Visit.objects.filter(
            organization=organization, date=day,
            status__in=(VisitStatus.REQUESTED, VisitStatus.SCHEDULED, VisitStatus.CONFIRMED),
        ).select_related("facility", "patient").prefetch_related(
            "windows", "required_skills", "facility__required_credentials",
            "patient__excluded_therapists", "patient__preferred_therapists",
        )
    )
    states = therapist_now_list(organization=organization, day=day, now=now)
    problem = replan_problem(
        problem=_day_problem(organization=organization, day=day, visits=open_visits),
        states=states,
        now_min=_minutes(now, midnight),
        settled_visit_ids=set(),
        current={v.pk: v.therapist_id for v in open_visits if v.therapist_id},
    )
    solution = optimizer.solve(problem, time_limit_s=time_limit_s, seed=0).to_dict()
    run.result = {
        "solution": solution,
        "diff": plan_diff(visits=open_visits, solution=solution, midnight=midnight),
        "therapists_now": [dataclasses.asdict(s) for s in states.values()],
    }
    run.input_sequences = {str(v.pk): v.sequence for v in open_visits}
    run.status = PlanStatus.SUCCEEDED
    run.progress = {"elapsed_s": solution["solve_time_s"]}


@transaction.atomic
def replan_propose(
    *, organization: Organization, day: dt.date | None = None, now: dt.datetime | None = None, by: User | None = None,
    trigger: str = "coordinator",
) -> PlanRun:
    """Solve the rest of ``day`` from ``now`` and keep it as a proposal with its difference from the plan."""
    now = now or timezone.now()
    day = day or now.astimezone(organization.tz).date()
    time_limit_s = getattr(settings, "ROUNDS_REPLAN_TIME_LIMIT_S", REPLAN_TIME_LIMIT_S)
    run = PlanRun.objects.create(
        organization=organization, date=day, kind=PlanKind.REPLAN, status=PlanStatus.RUNNING, created_by=by,
        parameters={"now": now.isoformat(), "time_limit_s": time_limit_s, "trigger": trigger},
        started_at=timezone.now(),
    )
    try:
        _replan_solve(run=run, organization=organization, day=day, now=now, time_limit_s=time_limit_s)
    except ValueError as exc:  # A malformed problem is a failed proposal, never a failed late report.
        logger.exception("Re-plan %s failed", run.pk)
        run.status, run.error = PlanStatus.FAILED, str(exc)
    run.finished_at = timezone.now()
    run.save()
    return run


@transaction.atomic
def replan_apply(*, run: PlanRun, by: User) -> PlanRun:
    """Apply a proposal in one step, or refuse (409) if any visit it read has changed since."""
    run = PlanRun.objects.select_for_update().get(pk=run.pk)
    if run.kind != PlanKind.REPLAN or run.status != PlanStatus.SUCCEEDED or run.applied_at is not None:
        state = "applied" if run.applied_at else run.status
        raise ConflictError(NOT_APPLICABLE.format(plan=run.pk, kind=run.kind, status=state))
    visits = {
        v.pk: v
        for v in Visit.objects.select_for_update(of=("self",))
        .select_related("organization", "facility")
        .filter(pk__in=[int(pk) for pk in run.input_sequences])
    }
    stale = sorted(
        int(pk) for pk, seq in run.input_sequences.items() if int(pk) not in visits or visits[int(pk)].sequence != seq
    )
    if stale:
        raise ConflictError(STALE.format(visits=", ".join(map(str, stale)), plan=run.pk), {"visits": stale})
    midnight = dt.datetime.combine(run.date, dt.time(0), tzinfo=run.organization.tz)
    solution = run.result["solution"]
    placed = set()
    therapists = {t.pk: t for t in Therapist.objects.filter(organization=run.organization)}
    for route in solution["routes"]:
        therapist = therapists[int(route["therapist_id"])]
        for stop in route["stops"]:
            visit = visits[int(stop["visit_id"])]
            placed.add(visit.pk)
            start = midnight + dt.timedelta(minutes=stop["start_min"])
            end = start + dt.timedelta(minutes=visit.duration_min)
            if visit.status == VisitStatus.REQUESTED:
                visit = visit_transition(
                    visit=visit, target=VisitStatus.SCHEDULED, therapist=therapist, planned_start=start, planned_end=end
                )
            elif visit.therapist_id != therapist.pk or visit.planned_start != start:
                visit.therapist, visit.planned_start, visit.planned_end = therapist, start, end
                visit.planned_busy_until = end + dt.timedelta(minutes=visit.effective_buffer_min)
                visit.sequence += 1
            visit.delay_min = 0  # The new times absorb the reported delay; the report stays in the history.
            visit.planned_travel_min = round(stop["travel_min"])
            visit.planned_travel_km = stop["travel_km"]
            visit._change_reason = f"re-plan {run.pk}"
            visit._history_user = by
            visit.save()
    for visit in visits.values():
        if visit.pk not in placed and visit.status != VisitStatus.REQUESTED:
            visit_transition(visit=visit, target=VisitStatus.REQUESTED, reason=f"dropped by re-plan {run.pk}")
    for therapist_id in {int(r["therapist_id"]) for r in solution["routes"]}:
        no_double_booking_check_now(therapist=therapists[therapist_id], start=midnight, end=midnight)
    run.applied_at, run.applied_by = timezone.now(), by
    run.save(update_fields=["applied_at", "applied_by"])
    return run
