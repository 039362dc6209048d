"""Re-plan benchmark: five things that happen during a day, on two regions, and what each re-plan costs.

Run with `.venv/bin/python bench/replan_bench.py [--repeat N] [--no-busy] [--only demo|generated]`.
Prints figures; asserts nothing (performance is measured here, never in tests).

Regions:
- *generated*: the 30-therapist / 250-visit Berlin day of ``optimizer.benchmarks.therapist_day``,
  planned for the morning (10 s, not timed), then narrowed to each moment as the product does
  (``dispatch.services.replan.replan_problem``) and re-planned with ``optimizer.replan``. Pure: no DB.
- *demo*: the demo region (``dispatch/demo``) in a throwaway SQLite database, today planned and
  started as ``make run`` does; each scenario goes through the product's services (report, then
  ``replan_propose``: read the day, narrow, solve, diff, store) inside a transaction rolled back after.

Scenarios: one therapist 25 min late at 10:00; a 45-min interruption at 10:00; a cancellation at
10:00; an urgent request added at 11:00; a therapist going home sick at 12:00. Each picks the
therapist with the most visits still to come. Figures: wall time from the report to a ready
proposal (goal < 1 s, limit 2 s), booked visits of *other* therapists disturbed (moved, reassigned
or unbooked; goal <= 3 for a delay), booked visits unbooked (goal 0 unless forced), travel added.
By default one core is kept busy by a spinning child process while measuring, as the goal asks.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SCENARIOS = ("late 25 min at 10:00", "interruption 45 min at 10:00", "cancellation at 10:00",
             "urgent add at 11:00", "sick at 12:00")
GOAL_S, LIMIT_S = 1.0, 2.0


def _uptime() -> str:
    return Path("/proc/loadavg").read_text().split(" ")[:3].__str__()


def _busy_core() -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", "while True: pass"])


def _row(name: str, walls: list[float], solver_s: float, scope: str, others: int, unbooked: int,
         travel: float | None, extra: str = "") -> str:
    wall = statistics.median(walls)
    verdict = "goal" if wall < GOAL_S else "limit" if wall < LIMIT_S else "OVER"
    travel_txt = "" if travel is None else f"{travel:+.0f}"
    return (f"| {name} | {wall:.2f} (max {max(walls):.2f}) | {verdict} | {solver_s:.2f} | {scope} | {others} "
            f"| {unbooked} | {travel_txt} | {extra} |")


HEADER = ("| scenario | wall s, median | vs goal | solver s | scope | others disturbed | booked unbooked "
          "| travel added min | notes |\n|---|---|---|---|---|---|---|---|---|")


# The generated day (pure optimiser)


def generated(repeat: int) -> list[str]:
    import optimizer
    from dispatch.services.replan import TherapistNow, replan_problem
    from optimizer.benchmarks.therapist_day import generate_day

    day = generate_day(seed=0, therapists=30, visits=250)
    # A fixed number of solutions, not a time: the same morning plan whatever the load.
    plan = optimizer.solve(day, options=optimizer.Options(time_limit_s=120.0, solution_limit=400))
    by_id = {v.id: v for v in day.visits}

    def state_at(now: int):
        states, settled, current, routes = {}, set(), {}, {}
        for route in plan.routes:
            started = [s for s in route.stops if s.start_min <= now]
            settled |= {s.visit_id for s in started}
            last = started[-1] if started else None
            where = by_id[last.visit_id] if last else None
            in_session = last is not None and last.buffer_end_min > now
            states[route.therapist_id] = TherapistNow(
                therapist_id=0, lat=where.location.lat if where else None, lon=where.location.lon if where else None,
                free_from_min=max(now, last.buffer_end_min if last else 0), delay_min=0, last_visit_id=None,
                site_id=where.site_id if where else None,
                # As the product: on the way since the last visit's buffer ended; at home until the shift.
                departs_min=None if in_session else (last.buffer_end_min if last else 0),
            )
            rest = [s for s in route.stops if s.start_min > now]
            routes[route.therapist_id] = [s.visit_id for s in rest]
            current |= {s.visit_id: (route.therapist_id, s.start_min) for s in rest}
        return states, settled, current, routes

    def busiest(routes, *, in_session_at: int | None = None, states=None) -> str:
        candidates = [t for t in routes if routes[t]]
        if in_session_at is not None:
            candidates = [t for t in candidates if states[t].departs_min is None]
        return max(candidates, key=lambda t: (len(routes[t]), t))

    lines = [f"Generated day: 30 therapists, 250 visits; morning plan {plan.kpis.assigned} assigned "
             f"({plan.stopped_by}); load {_uptime()}", HEADER]
    for name in SCENARIOS:
        now = {"urgent": 660, "sick": 720}.get(name.split()[0], 600)
        states, settled, current, routes = state_at(now)
        problem, concerned, placing, not_before = day, [], [], {}
        kind = name.split()[0]
        if kind == "late":
            who = busiest(routes)
            states[who] = dataclasses.replace(
                states[who], free_from_min=max(states[who].free_from_min, now + 25),
                departs_min=max(states[who].leaves_min, now + 25),
            )
            not_before = {routes[who][0]: now + 25}
            concerned = [who]
        elif kind == "interruption":
            who = busiest(routes, in_session_at=now, states=states)
            states[who] = dataclasses.replace(states[who], free_from_min=states[who].free_from_min + 45)
            concerned = [who]
        elif kind == "cancellation":
            who = busiest(routes)
            gone = routes[who].pop(0)
            current.pop(gone)
            problem = dataclasses.replace(day, visits=tuple(v for v in day.visits if v.id != gone))
            concerned = [who]
        elif kind == "urgent":
            near = by_id[routes[busiest(routes)][1]]
            urgent = dataclasses.replace(
                near, id="urgent-1", location=optimizer.Location(near.location.lat + 0.004, near.location.lon),
                windows=(optimizer.TimeWindow(now, now + 240),), priority=optimizer.Priority.URGENT, site_id=None,
                overhead_min=0, required_skills=frozenset(), preferred_therapists=frozenset(),
            )
            problem = dataclasses.replace(day, visits=(*day.visits, urgent))
            placing = ["urgent-1"]
        else:  # sick
            who = busiest(routes)
            problem = dataclasses.replace(day, therapists=tuple(
                dataclasses.replace(t, shift_end_min=now) if t.id == who else t for t in day.therapists
            ))
            concerned = [who]
        walls = []
        for _ in range(repeat):
            started = time.perf_counter()
            narrowed = replan_problem(problem=problem, states=states, now_min=now, settled_visit_ids=settled,
                                      current=current, not_before=not_before).problem
            result = optimizer.replan(narrowed, current_routes=routes, concerned=concerned, placing=placing,
                                      options=optimizer.Options(time_limit_s=1.0))
            walls.append(time.perf_counter() - started)
        after = {s.visit_id: (r.therapist_id, s.start_min) for r in result.solution.routes for s in r.stops}
        others = sum(1 for v, old in current.items() if old[0] not in concerned and after.get(v) != old)
        unbooked = sum(1 for v in current if v not in after)
        travel = result.solution.kpis.travel_min - result.kept.travel_min
        extra = f"{len(narrowed.visits)} visits open; rehomed {len(result.rehomed)}"
        if placing:
            extra += f"; urgent placed: {'yes' if 'urgent-1' in after else 'NO'}"
        violations = optimizer.check_solution(narrowed, result.solution)
        if violations:
            extra += f"; {len(violations)} CHECKER VIOLATIONS"
        lines.append(_row(name, walls, result.solution.solve_time_s, result.scope, others, unbooked, travel, extra))
    return lines


# The demo region (the product's services on a throwaway database)


def demo(repeat: int) -> list[str]:
    import datetime as dt

    import time_machine
    from django.core.management import call_command
    from django.db import transaction
    from django.utils import timezone

    from dispatch.demo.seed import demo_seed
    from dispatch.demo.today import demo_today_start
    from dispatch.models import Patient, Priority, Therapist, User, Visit, VisitStatus
    from dispatch.services.availability import therapist_mark_off
    from dispatch.services.replan import replan_propose
    from dispatch.services.visit_actions import (
        visit_cancel,
        visit_check_in,
        visit_check_out,
        visit_record_interruption,
        visit_report_late,
    )
    from dispatch.services.visits import visit_request_create

    call_command("migrate", verbosity=0)
    import zoneinfo

    tz = zoneinfo.ZoneInfo("America/Toronto")
    today = timezone.localdate(timezone=tz)
    summary = demo_seed(day=today + dt.timedelta(days=1), today=today, today_visits=100)
    org = summary.organization
    start = demo_today_start(organization=org, day=today, time_limit_s=10.0)
    coordinator = User.objects.get(organization=org, username="coordinator")

    def at(hhmm: str) -> dt.datetime:
        return dt.datetime.combine(today, dt.time.fromisoformat(hhmm), tzinfo=tz)

    def advance(now: dt.datetime) -> None:
        """Every visit planned to have started by ``now`` is under way or done, as its therapist checked it."""
        for visit in Visit.objects.filter(organization=org, date=today, planned_start__lt=now).exclude(
            status__in=(VisitStatus.COMPLETED, VisitStatus.CANCELLED, VisitStatus.NO_SHOW, VisitStatus.REQUESTED)
        ).select_related("therapist__user").order_by("planned_start"):
            if visit.status != VisitStatus.IN_PROGRESS:
                visit = visit_check_in(visit=visit, by=visit.therapist.user, at=visit.planned_start).visit
            if visit.planned_end <= now:
                visit_check_out(visit=visit, by=visit.therapist.user, at=visit.planned_end)

    def busiest(now: dt.datetime, *, in_session: bool = False) -> Therapist:
        therapists = Therapist.objects.filter(organization=org)
        if in_session:
            therapists = therapists.filter(visits__status=VisitStatus.IN_PROGRESS, visits__date=today)
        return max(therapists.distinct(), key=lambda t: (
            Visit.objects.filter(therapist=t, date=today, status=VisitStatus.SCHEDULED, planned_start__gte=now).count(),
            -t.pk,
        ))

    def next_visit(therapist: Therapist, now: dt.datetime) -> Visit:
        return Visit.objects.filter(
            therapist=therapist, date=today, status=VisitStatus.SCHEDULED, planned_start__gte=now
        ).order_by("planned_start").first()

    lines = [f"Demo region (Toronto): 12 therapists, today {today}: {start.planned} visits planned of 100 requests; "
             f"load {_uptime()}", HEADER]
    for name in SCENARIOS:
        kind = name.split()[0]
        now = at({"urgent": "11:00", "sick": "12:00"}.get(kind, "10:00"))
        walls, run = [], None
        for _ in range(repeat):
            # The day's clock stands at the scenario's moment: check-ins dated ahead of it are refused, and
            # perf_counter (the wall time measured) stays real.
            with time_machine.travel(now, tick=False), transaction.atomic():
                advance(now)
                concerned, placing = [], []
                if kind == "urgent":
                    patient = Patient.objects.filter(organization=org, facility__isnull=True).order_by("pk")[5]
                began = time.perf_counter()
                if kind == "late":
                    who = busiest(now)
                    visit_report_late(visit=next_visit(who, now), minutes=25, by=who.user, at=now)
                    concerned = [who.pk]
                elif kind == "interruption":
                    who = busiest(now, in_session=True)
                    under_way = Visit.objects.get(therapist=who, date=today, status=VisitStatus.IN_PROGRESS)
                    visit_record_interruption(visit=under_way, minutes=45, kind="extended", by=who.user)
                    concerned = [who.pk]
                elif kind == "cancellation":
                    who = busiest(now)
                    visit_cancel(visit=next_visit(who, now), reason="Family asked", by=coordinator)
                    concerned = [who.pk]
                elif kind == "urgent":
                    urgent = visit_request_create(
                        patient=patient, date=today, duration_min=30, priority=Priority.URGENT,
                        windows=[{"start": now, "end": now + dt.timedelta(hours=4)}], requested_by=coordinator,
                    )
                    placing = [urgent.pk]
                else:
                    who = busiest(now)
                    therapist_mark_off(therapist=who, start=now, end=None, note="Sick", by=coordinator)
                    concerned = [who.pk]
                run = replan_propose(organization=org, day=today, now=now, by=coordinator, trigger=kind,
                                     concerned=concerned, placing=placing)
                walls.append(time.perf_counter() - began)
                counts, result = run.result["diff"]["counts"], run.result
                scope = run.result["diff"]["scope"]
                solver_s = result["solution"]["solve_time_s"]
                notes = f"{len(result['solution']['routes'])} routes; {run.status}"
                if placing:
                    notes += f"; urgent placed: {'yes' if counts['added'] else 'NO'}"
                transaction.set_rollback(True)
        lines.append(_row(name, walls, solver_s, scope, counts["others_disturbed"], counts["booked_unbooked"],
                          counts["travel_added_min"], notes))
    return lines


def _django_on_a_throwaway_database() -> None:
    """Django for the product's services; the demo region goes into a temporary SQLite file, never a real DB."""
    folder = tempfile.mkdtemp(prefix="rounds-replan-bench-")
    os.environ["DATABASE_URL"] = f"sqlite:///{folder}/bench.sqlite3"
    os.environ["ROUNDS_PLAN_IN_PROCESS"] = "sync"  # the proposal is solved inside the timed call
    os.environ["CELERY_BROKER_URL"] = ""
    # Messages to therapists are kept in memory and sent in the caller, not from a thread that
    # would write to the same SQLite file (and a rolled-back scenario sends nothing anyway).
    os.environ["ROUNDS_NOTIFY_IN_PROCESS"] = "sync"
    os.environ["ROUNDS_NOTIFY_SCHEDULER"] = "off"
    os.environ["DJANGO_EMAIL_BACKEND"] = "django.core.mail.backends.locmem.EmailBackend"
    os.environ["ROUNDS_SMS_BACKEND"] = "dispatch.notifications.sms.LocmemSmsBackend"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
    import django

    django.setup()


def main() -> None:
    _django_on_a_throwaway_database()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3, help="runs per scenario; the median is reported")
    parser.add_argument("--no-busy", dest="busy", action="store_false", help="do not keep a core busy")
    parser.add_argument("--only", choices=("demo", "generated"))
    args = parser.parse_args()
    spinner = _busy_core() if args.busy else None
    try:
        print(f"Re-plan benchmark; one core kept busy: {args.busy}; load before {_uptime()}")
        if args.only != "demo":
            print("\n".join(generated(args.repeat)))
        if args.only != "generated":
            print("\n".join(demo(args.repeat)))
        print(f"load after {_uptime()}")
    finally:
        if spinner is not None:
            spinner.kill()


if __name__ == "__main__":
    main()
