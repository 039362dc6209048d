"""Plan runs: create, execute (Celery worker, background thread or inline) and apply in one transaction."""
from __future__ import annotations

import datetime as dt
import logging
import re
import threading
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import OperationalError, close_old_connections, connection, transaction
from django.utils import timezone

import optimizer
from dispatch.exceptions import BookedVisitsDropped, ConflictError, DispatchError, PlanAlreadyRunning
from dispatch.models import (
    OPEN_STATUSES,
    Organization,
    Patient,
    PlanKind,
    PlanRun,
    PlanStatus,
    Therapist,
    Visit,
    VisitStatus,
)
from dispatch.optimizer_adapter import (
    THERAPIST_PREFETCH,
    VISIT_PREFETCH,
    DayProblem,
    problem_from_visits,
    solution_assignments,
)
from dispatch.notifications.changes import change_set, changing
from dispatch.selectors.coverage import referral_problem, visits_beyond_units
from dispatch.services.booking import no_double_booking_check_now, patient_needs_problems, visit_overlapping
from dispatch.services.visit_status import visit_transition

if TYPE_CHECKING:
    from dispatch.models import User

logger = logging.getLogger(__name__)

TOO_MANY_VISITS = "The plan holds {count} visits; at most {limit} can be planned in one run."
TIME_LIMIT_TOO_LONG = "time_limit_s must be between 0.5 and {limit} seconds."
DAY_PASSED = "{day} has passed (today is {today}); a day plan books visits on a day still to come."
DAY_UNDER_WAY = (
    "{day} is today and under way ({now}): a day plan would book visits before now. "
    "Re-plan the rest of today instead: POST /api/v1/replan."
)
NOT_APPLICABLE = "Plan {plan} is {state}; only a succeeded plan that is not applied yet can be applied."
STALE = "Visits {visits} changed since plan {plan} read them; start a new plan."
NO_LONGER_COVERED = (
    "Plan {plan} would book visits {visits}, which their patients' authorised units, referral or wishes no longer "
    "allow (changed since the plan was made); start a new plan."
)
WORKER_LOST = "The worker running this plan stopped twice; the plan was not retried again."
ALREADY_RUNNING = "Plan {plan} for {day} is still {status}; follow it instead of starting another."
REPLAN_OTHER_DAY = (
    "Re-plan {plan} of {other} is still {status}, and one re-plan runs at a time; re-plan {day} once it is done."
)
REPLAN_NOT_PLACING = (
    "Re-plan {plan} of this day is still {status} and does not place visit {visits}; ask again once it is done, so "
    "that the proposal looks for a place for {it}."
)
TOO_MANY_RUNNING = "{count} plans of this organisation are running (at most {limit} at once); wait for one to finish."
NOT_FINISHED_IN_TIME = "No worker finished this plan within its time limit plus {margin:.0f} s; start it again."
NO_SOLUTION = (
    "The optimiser found no plan within {limit} s, so nothing was proposed and nothing changes; "
    "start a new plan, with a longer time limit if the day is large."
)
DROPS_BOOKED = (
    "Plan {plan} would unbook {count} booked visit(s) ({visits}): it leaves them unassigned. Nothing was applied; "
    "apply with drop_booked set to true to unbook them, or start a new plan."
)
# A plan that leaves one of these unassigned takes a promised visit away from its therapist.
BOOKED_STATUSES = (VisitStatus.SCHEDULED, VisitStatus.CONFIRMED)
PROGRESS_EVERY_S = 0.5
MAX_ATTEMPTS = 2
ACTIVE_STATUSES = (PlanStatus.QUEUED, PlanStatus.RUNNING)


def plan_scope_visits(*, organization: Organization, day: dt.date, scope: dict[str, Any]):
    visits = Visit.objects.filter(organization=organization, date=day, status__in=OPEN_STATUSES)
    if scope.get("facilities"):
        visits = visits.filter(facility_id__in=scope["facilities"])
    if scope.get("therapists"):
        # Visits already held by other therapists stay theirs.
        visits = visits.filter(therapist__isnull=True) | visits.filter(therapist_id__in=scope["therapists"])
    return visits.select_related("facility", "patient", "organization").prefetch_related(*VISIT_PREFETCH)


def plan_scope_therapists(*, organization: Organization, scope: dict[str, Any]):
    therapists = Therapist.objects.filter(organization=organization, active=True)
    if scope.get("therapists"):
        therapists = therapists.filter(pk__in=scope["therapists"])
    return therapists.select_related("organization").prefetch_related(*THERAPIST_PREFETCH)


def plan_day_to_come_check(*, organization: Organization, day: dt.date, as_of: dt.datetime | None = None) -> None:
    """A day plan places the whole day from its first minute, so it is for a day that has not begun.

    A past day is a bad date (400); today, once begun, is a conflict with the clock (409): the
    re-plan is the tool that plans from now, around the visits already under way. ``as_of`` is the
    moment the plan counts as made (now, but for the demo, which sets up a day as if planned the evening before).
    """
    local = timezone.localtime(as_of or timezone.now(), organization.tz)
    today = local.date()
    if day < today:
        raise ValidationError({"date": DAY_PASSED.format(day=day, today=today)})
    if day == today:
        raise ConflictError(
            DAY_UNDER_WAY.format(day=day, now=local.strftime("%H:%M")),
            {"field": "date", "replan": "/api/v1/replan"},
        )


@transaction.atomic
def plan_run_create(
    *,
    organization: Organization,
    day: dt.date,
    created_by: User | None,
    therapists: Iterable[int] = (),
    facilities: Iterable[int] = (),
    time_limit_s: float | None = None,
    seed: int = 0,
    kind: str = PlanKind.DAY,
    extra_parameters: dict[str, Any] | None = None,
    execute: bool = True,
    as_of: dt.datetime | None = None,
) -> PlanRun:
    if kind == PlanKind.DAY:
        plan_day_to_come_check(organization=organization, day=day, as_of=as_of)
    time_limit_s = settings.ROUNDS_PLAN_TIME_LIMIT_S if time_limit_s is None else time_limit_s
    if not 0.5 <= time_limit_s <= settings.ROUNDS_PLAN_MAX_TIME_LIMIT_S:
        raise DispatchError(
            TIME_LIMIT_TOO_LONG.format(limit=settings.ROUNDS_PLAN_MAX_TIME_LIMIT_S), {"field": "time_limit_s"}
        )
    scope = {"therapists": sorted(set(therapists)), "facilities": sorted(set(facilities))}
    count = plan_scope_visits(organization=organization, day=day, scope=scope).count()
    if count > settings.ROUNDS_PLAN_MAX_VISITS:
        raise DispatchError(TOO_MANY_VISITS.format(count=count, limit=settings.ROUNDS_PLAN_MAX_VISITS))
    pending = _pending_run(organization=organization, day=day, kind=kind)
    if pending is not None:
        # Joining is for news the pending run already answers (a second late report); a visit to place that it does
        # not place would get a proposal that ignores it.
        unplaced = sorted(set((extra_parameters or {}).get("placing", ())) - set(pending.parameters.get("placing", ())))
        if unplaced:
            raise PlanAlreadyRunning(REPLAN_NOT_PLACING.format(
                plan=pending.pk, status=pending.status, visits=", ".join(map(str, unplaced)),
                it="it" if len(unplaced) == 1 else "them",
            ), {"plan": pending.pk, "place": unplaced})
        return pending
    run = PlanRun.objects.create(
        organization=organization,
        date=day,
        kind=kind,
        scope=scope,
        parameters={"time_limit_s": time_limit_s, "seed": seed, **(extra_parameters or {})},
        created_by=created_by,
    )
    if execute:
        plan_run_enqueue(run=run)
        run.refresh_from_db()
    return run


def _pending_run(*, organization: Organization, day: dt.date, kind: str) -> PlanRun | None:
    """Each run holds a solver for seconds to minutes, so they are bounded: one day plan per day at a time
    (another is a 409 naming it), a few days at once, and one re-plan per organisation (a new request for
    one, such as a second late report, joins it and gets it back). Database constraints back both."""
    # Concurrent starts for one organisation queue up here (SQLite serialises writers anyway).
    Organization.objects.select_for_update().filter(pk=organization.pk).first()
    plan_runs_fail_stale(organization=organization)
    active = PlanRun.objects.filter(organization=organization, status__in=ACTIVE_STATUSES)
    if kind == PlanKind.REPLAN:
        pending = active.filter(kind=PlanKind.REPLAN).first()
        if pending is not None and pending.date != day:
            # Joining it would answer a request about this day with a proposal for another.
            raise PlanAlreadyRunning(
                REPLAN_OTHER_DAY.format(plan=pending.pk, other=pending.date, status=pending.status, day=day),
                {"plan": pending.pk},
            )
        return pending
    same_day = active.filter(kind=PlanKind.DAY, date=day).first()
    if same_day is not None:
        raise PlanAlreadyRunning(
            ALREADY_RUNNING.format(plan=same_day.pk, day=day, status=same_day.status), {"plan": same_day.pk}
        )
    running = list(active.filter(kind=PlanKind.DAY).values_list("pk", flat=True))
    if len(running) >= settings.ROUNDS_PLAN_MAX_RUNNING:
        raise PlanAlreadyRunning(
            TOO_MANY_RUNNING.format(count=len(running), limit=settings.ROUNDS_PLAN_MAX_RUNNING), {"plans": running}
        )
    return None


def plan_runs_fail_stale(*, organization: Organization) -> int:
    """Runs queued or running past their time limit plus a margin lost their worker: mark them failed,
    so that the day can be planned again."""
    now, margin = timezone.now(), settings.ROUNDS_PLAN_STALE_MARGIN_S
    failed = 0
    for run in PlanRun.objects.filter(organization=organization, status__in=ACTIVE_STATUSES):
        # The optimiser's deterministic mode may run to its wall cap, a multiple of the time limit.
        limit_s = optimizer.Options(
            time_limit_s=float(run.parameters.get("time_limit_s", settings.ROUNDS_PLAN_TIME_LIMIT_S))
        ).wall_limit_s
        if now - (run.started_at or run.created_at) > dt.timedelta(seconds=limit_s + margin):
            failed += PlanRun.objects.filter(pk=run.pk, status=run.status).update(
                status=PlanStatus.FAILED, error=NOT_FINISHED_IN_TIME.format(margin=margin), finished_at=now
            )
    return failed


def plan_run_enqueue(*, run: PlanRun) -> None:
    """A Celery worker when a broker is configured; otherwise in this process."""
    if settings.CELERY_BROKER_URL and not settings.CELERY_TASK_ALWAYS_EAGER:
        transaction.on_commit(lambda: _send_to_worker(run.pk))
    elif settings.ROUNDS_PLAN_IN_PROCESS == "thread":
        transaction.on_commit(lambda: _start_thread(run.pk))
    else:
        plan_run_execute(plan_run_id=run.pk)


def _send_to_worker(plan_run_id: int) -> None:
    from dispatch.tasks import plan_run_task

    try:
        result = plan_run_task.delay(plan_run_id)
    except Exception as exc:  # noqa: BLE001 (any broker failure: kombu raises several kinds)
        # The broker is down: plan here rather than leave the run queued for ever.
        logger.warning("Broker unreachable (%s); plan run %s runs in-process.", exc, plan_run_id)
        PlanRun.objects.filter(pk=plan_run_id).update(error=f"Broker unreachable, ran in-process: {exc}")
        _start_thread(plan_run_id)
        return
    PlanRun.objects.filter(pk=plan_run_id).update(task_id=result.id)


def _start_thread(plan_run_id: int) -> None:
    def work() -> None:
        try:
            plan_run_execute(plan_run_id=plan_run_id)
        finally:
            close_old_connections()
            connection.close()

    threading.Thread(target=work, name=f"plan-run-{plan_run_id}", daemon=True).start()


def _claim(plan_run_id: int) -> PlanRun | None:
    """Mark the run running, or return None when it is finished or has failed too often."""
    with transaction.atomic():
        run = PlanRun.objects.select_for_update().select_related("organization").get(pk=plan_run_id)
        if run.status in (PlanStatus.SUCCEEDED, PlanStatus.FAILED):
            return None
        if run.attempts >= MAX_ATTEMPTS:
            run.status, run.error, run.finished_at = PlanStatus.FAILED, WORKER_LOST, timezone.now()
            run.save(update_fields=["status", "error", "finished_at"])
            return None
        run.status, run.attempts, run.started_at = PlanStatus.RUNNING, run.attempts + 1, timezone.now()
        run.save(update_fields=["status", "attempts", "started_at"])
        return run


def plan_run_execute(*, plan_run_id: int) -> PlanRun:
    run = _claim(plan_run_id)
    if run is None:
        return PlanRun.objects.get(pk=plan_run_id)
    try:
        if run.kind == PlanKind.REPLAN:
            from dispatch.services.replan import replan_build, replan_solve
            from dispatch.services.replan_diff import replan_diff

            day_problem, visits, extra = replan_build(run=run)
            solution = replan_solve(run=run, day_problem=day_problem, extra=extra)
        else:
            from dispatch.services.replan import availability_fingerprint

            day_problem, visits = plan_day_build(run=run)
            # The hours the plan was made for: apply refuses it once they change (time off, a therapist switched off).
            extra = {"availability": availability_fingerprint(organization=run.organization, day=run.date)}
            solution = _solve(run=run, day_problem=day_problem)
        if solution.status == "no_solution":
            # Every visit would read as unassigned for a false reason; a failed run proposes nothing.
            limit = run.parameters.get("time_limit_s", settings.ROUNDS_PLAN_TIME_LIMIT_S)
            return _finish(run=run, status=PlanStatus.FAILED, error=NO_SOLUTION.format(limit=limit))
        run.result = {**plan_result(run=run, day_problem=day_problem, visits=visits, solution=solution), **extra}
        if run.kind == PlanKind.REPLAN:
            run.result["diff"] = replan_diff(run=run, visits=visits, midnight=day_problem.midnight)
        run.input_sequences = {str(v.pk): v.sequence for v in visits}
        run.status = PlanStatus.SUCCEEDED
    except Exception as exc:
        logger.exception("Plan run %s failed", run.pk)
        run.status, run.error = PlanStatus.FAILED, f"{type(exc).__name__}: {exc}"
    return _finish(run=run, status=run.status, error=run.error)


# A run whose result cannot be saved stays "running" until the sweep fails it, and its plan is lost; a lock held
# for a moment (SQLite's writer, a PostgreSQL row a plan apply holds) is worth waiting out a few times first.
FINISH_ATTEMPTS = 5
FINISH_RETRY_S = 0.2


def _no_longer_covered(*, visits: dict[int, Visit], assignments, therapists: dict[int, Therapist]) -> list[int]:
    """The visits a plan books that a patient change made since it was read rules out: units lowered or used,
    the referral cut short, a wish the planned therapist no longer meets (a change moves no visit while nothing
    booked has to come off, so the staleness check does not see it)."""
    placed = [visits[a.visit_id] for a in assignments]
    beyond = visits_beyond_units(visits=placed)
    therapist_of = {a.visit_id: therapists[a.therapist_id] for a in assignments}
    exclusions = set(
        Patient.excluded_therapists.through.objects.filter(patient_id__in={v.patient_id for v in placed})
        .values_list("patient_id", "therapist_id")
    )
    return sorted(
        v.pk for v in placed
        if v.pk in beyond or referral_problem(patient=v.patient, day=v.date)
        or patient_needs_problems(
            visit=v, therapist=therapist_of[v.pk], excluded=(v.patient_id, therapist_of[v.pk].pk) in exclusions
        )
    )


def _finish(*, run: PlanRun, status: str, error: str) -> PlanRun:
    run.status, run.error, run.finished_at = status, error, timezone.now()
    fields = ["result", "input_sequences", "status", "error", "finished_at"]
    for attempt in range(1, FINISH_ATTEMPTS):
        try:
            with transaction.atomic():  # a savepoint when the run is solved inside a request's transaction
                run.save(update_fields=fields)
            return run
        except OperationalError:
            logger.warning("Plan run %s: saving its result met a lock (attempt %s); trying again.", run.pk, attempt)
            time.sleep(FINISH_RETRY_S * attempt)
    run.save(update_fields=fields)
    return run


def plan_day_build(*, run: PlanRun) -> tuple[DayProblem, list[Visit]]:
    visits = list(plan_scope_visits(organization=run.organization, day=run.date, scope=run.scope))
    therapists = plan_scope_therapists(organization=run.organization, scope=run.scope)
    return problem_from_visits(organization=run.organization, day=run.date, visits=visits, therapists=therapists), visits


def _solve(*, run: PlanRun, day_problem: DayProblem) -> optimizer.Solution:
    last_saved = [0.0]

    def progress(elapsed_s: float, best_cost: int, visits_assigned: int, travel_min: float) -> None:
        now = time.monotonic()
        if now - last_saved[0] >= PROGRESS_EVERY_S:
            last_saved[0] = now
            try:
                with transaction.atomic():  # inline, inside a request's transaction: only this write is undone
                    PlanRun.objects.filter(pk=run.pk).update(progress={
                        "elapsed_s": round(elapsed_s, 2), "best_cost": best_cost,
                        "visits_assigned": visits_assigned, "travel_min": round(travel_min),
                    })
            except OperationalError as exc:
                # Progress is a courtesy to the board, which polls again; an exception here would end the search.
                logger.warning("Plan run %s: progress not saved (%s); the next report will be.", run.pk, exc)
                last_saved[0] = 0.0

    solution = optimizer.solve(
        day_problem.problem,
        options=optimizer.Options(processes=settings.ROUNDS_PLAN_PROCESSES),
        time_limit_s=run.parameters.get("time_limit_s", settings.ROUNDS_PLAN_TIME_LIMIT_S),
        seed=run.parameters.get("seed", 0),
        progress=progress,
    )
    kpis = solution.to_dict()["kpis"]
    run.progress = {
        "elapsed_s": round(solution.solve_time_s, 2), "best_cost": solution.objective, "done": True,
        "visits_assigned": kpis.get("assigned"), "travel_min": round(kpis.get("travel_min") or 0),
    }
    run.save(update_fields=["progress"])
    return solution


def plan_result(
    *, run: PlanRun, day_problem: DayProblem, visits: list[Visit], solution: optimizer.Solution
) -> dict[str, Any]:
    """What a coordinator reads: routes in local time, every unassigned visit with its reason, KPIs."""
    tz = run.organization.tz
    midnight = day_problem.midnight
    by_id = {str(v.pk): v for v in visits}
    names = dict(Therapist.objects.filter(organization=run.organization).values_list("pk", "display_name"))

    def at(minutes: float) -> str:
        return (midnight + dt.timedelta(minutes=minutes)).astimezone(tz).isoformat()

    raw = solution.to_dict()
    routes = [
        {
            "therapist_id": int(r.therapist_id),
            "therapist_name": names.get(int(r.therapist_id), ""),
            "start": at(r.start_min),
            "end": at(r.end_min),
            "travel_min": round(r.travel_min),
            "travel_km": round(r.travel_km, 2),
            "stops": [
                {
                    "visit_id": int(s.visit_id),
                    "patient_initials": by_id[s.visit_id].patient.initials,
                    "location": by_id[s.visit_id].location_text,
                    "start": at(s.start_min),
                    "end": at(s.end_min),
                    "travel_min": round(s.travel_min),
                    "travel_km": round(s.travel_km, 2),
                }
                for s in r.stops
            ],
            "breaks": [{"start": at(b.start_min), "end": at(b.end_min)} for b in r.breaks],
        }
        for r in solution.routes
    ]
    def named(reason: str) -> str:
        # The optimiser speaks of "Therapist <id>" and "visit <id>"; coordinators read names and initials.
        reason = re.sub(r"\bTherapist (\d+)\b", lambda m: names.get(int(m[1]), m[0]), reason)
        return re.sub(
            r"\bvisit (\d+)\b", lambda m: f"{by_id[m[1]].patient.initials}'s visit" if m[1] in by_id else m[0], reason
        )

    unassigned = [
        {"visit_id": int(u.visit_id), "code": u.code, "reason": named(u.reason)}
        for u in (*day_problem.excluded, *solution.unassigned)
    ]
    kpis = {**raw["kpis"], "unassigned": len(unassigned)}
    placed = {int(s.visit_id) for r in solution.routes for s in r.stops}
    unbooked = sorted(v.pk for v in visits if v.status in BOOKED_STATUSES and v.pk not in placed)
    return {
        # What apply would take away: clients warn before applying (apply refuses without drop_booked).
        "would_unbook": {"count": len(unbooked), "visit_ids": unbooked},
        "status": solution.status,
        "objective": solution.objective,
        "solve_time_s": round(solution.solve_time_s, 2),
        # "solution_limit" or "work_limit": the same day and seed give this plan again; "time_limit": the wall clock
        # cut it.
        "stopped_by": solution.stopped_by,
        "kpis": kpis,
        "routes": routes,
        "unassigned": unassigned,
        "therapists_left_out": [
            {"therapist_id": t.therapist_id, "reason": t.reason} for t in day_problem.left_out
        ],
        "solution": raw,
        "midnight": midnight.isoformat(),
    }


@transaction.atomic
@change_set()
def plan_run_apply(
    *, plan_run: PlanRun, applied_by: User | None, drop_booked: bool = False, as_of: dt.datetime | None = None
) -> PlanRun:
    """Write every assignment in one transaction, or change nothing (409) if a visit moved since the run read it.

    A plan that leaves booked (scheduled or confirmed) visits unassigned unbooks them only when
    ``drop_booked`` says so; otherwise it is refused (409) with their ids, and nothing changes.
    A day plan made the evening before is refused once its day has begun, like a new one (409).
    """
    run = PlanRun.objects.select_for_update().select_related("organization").get(pk=plan_run.pk)
    if run.status != PlanStatus.SUCCEEDED or run.applied_at is not None:
        raise ConflictError(NOT_APPLICABLE.format(plan=run.pk, state="applied" if run.applied_at else run.status))
    if run.kind == PlanKind.DAY:
        try:
            plan_day_to_come_check(organization=run.organization, day=run.date, as_of=as_of)
        except ValidationError as exc:  # the plan's date was fine when it was made: now it conflicts with the clock
            raise ConflictError(exc.message_dict["date"][0], {"field": "date"}) from exc
    from dispatch.services.replan import replan_hours_check

    replan_hours_check(run=run)
    ids = [int(pk) for pk in run.input_sequences]
    # The patients first (as booking by hand takes them), so a change to their units, referral or wishes waits for
    # this apply, or this apply for it, and the check below sees what is committed.
    patients = Visit.objects.filter(pk__in=ids).values("patient_id")
    list(Patient.objects.select_for_update().filter(pk__in=patients).order_by("pk").values_list("pk", flat=True))
    visits = {
        v.pk: v
        # By id: two applies over overlapping visits take their locks in one order, so neither waits on the other.
        for v in Visit.objects.select_for_update(of=("self",)).select_related("organization", "facility", "patient")
        .filter(pk__in=ids).order_by("pk")
    }
    stale = sorted(pk for pk in ids if pk not in visits or visits[pk].sequence != run.input_sequences[str(pk)])
    added = list(
        plan_scope_visits(organization=run.organization, day=run.date, scope=run.scope)
        .exclude(pk__in=ids)
        .filter(status=VisitStatus.REQUESTED)
        .values_list("pk", flat=True)
    ) if run.kind == PlanKind.DAY else []
    if stale or added:
        changed = sorted(stale + added)
        raise ConflictError(STALE.format(visits=", ".join(map(str, changed)), plan=run.pk), {"visits": changed})
    midnight = dt.datetime.fromisoformat(run.result["midnight"])
    assignments = solution_assignments(solution=run.result["solution"], midnight=midnight)
    placed = {a.visit_id for a in assignments}
    unbooked = sorted(pk for pk, v in visits.items() if pk not in placed and v.status in BOOKED_STATUSES)
    if unbooked and not drop_booked:
        raise BookedVisitsDropped(
            DROPS_BOOKED.format(plan=run.pk, count=len(unbooked), visits=", ".join(map(str, unbooked))),
            {"count": len(unbooked), "visits": unbooked},
        )
    therapists = {t.pk: t for t in Therapist.objects.filter(organization=run.organization)}
    uncovered = _no_longer_covered(visits=visits, assignments=assignments, therapists=therapists)
    if uncovered:
        raise ConflictError(
            NO_LONGER_COVERED.format(plan=run.pk, visits=", ".join(map(str, uncovered))), {"visits": uncovered}
        )
    changing(*visits.values(), key=f"plan:{run.pk}")  # one message per person for the whole plan
    reason = f"{'re-plan' if run.kind == PlanKind.REPLAN else 'plan'} {run.pk}"
    for a in assignments:
        visit, therapist = visits[a.visit_id], therapists[a.therapist_id]
        if visit.status == VisitStatus.REQUESTED:
            visit = visit_transition(
                visit=visit, target=VisitStatus.SCHEDULED, therapist=therapist,
                planned_start=a.planned_start, planned_end=a.planned_end,
            )
        elif visit.therapist_id != therapist.pk or visit.planned_start != a.planned_start:
            visit.therapist, visit.planned_start, visit.planned_end = therapist, a.planned_start, a.planned_end
            visit.planned_busy_until = a.planned_end + dt.timedelta(minutes=visit.effective_buffer_min)
            visit.sequence += 1
        visit.planned_travel_min, visit.planned_travel_km = a.travel_min, a.travel_km
        visit.delay_min = 0  # The new times absorb any reported delay; the report stays in the history.
        visit._change_reason = reason
        visit._history_user = applied_by
        visit.save()
    for pk in unbooked:
        visit_transition(visit=visits[pk], target=VisitStatus.REQUESTED, reason=f"left unassigned by {reason}")
    _refuse_double_booking(visit_ids=placed, therapists=therapists, midnight=midnight)
    run.applied_at, run.applied_by = timezone.now(), applied_by
    run.save(update_fields=["applied_at", "applied_by"])
    return run


def _refuse_double_booking(*, visit_ids: set[int], therapists: dict[int, Therapist], midnight: dt.datetime) -> None:
    """PostgreSQL's exclusion constraint checks now; elsewhere the same rule is queried here."""
    placed = Visit.objects.filter(pk__in=visit_ids)
    if connection.vendor == "postgresql":
        for therapist_id in set(placed.values_list("therapist_id", flat=True)):
            no_double_booking_check_now(therapist=therapists[therapist_id], start=midnight, end=midnight)
        return
    for v in placed:
        clash = visit_overlapping(
            therapist=therapists[v.therapist_id], start=v.planned_start, busy_until=v.planned_busy_until,
            exclude_visit_id=v.pk,
        ).first()
        if clash is not None:
            from dispatch.exceptions import SlotTaken

            raise SlotTaken(
                f"Visit {v.pk} would overlap visit {clash.pk} of therapist {v.therapist_id}; nothing was applied."
            )
