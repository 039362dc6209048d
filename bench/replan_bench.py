"""Re-plan benchmark: 30 therapists, 250 visits, re-planned at 10:00 after three therapists report delays.

Run with `.venv/bin/python bench/replan_bench.py [--seed N] [--time-limit S]`. Prints figures; asserts nothing.
The morning plan is solved first (not timed as the re-plan); the re-plan is what a coordinator waits for.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")

import django  # noqa: E402

django.setup()

import optimizer  # noqa: E402
from optimizer.benchmarks.therapist_day import generate_day  # noqa: E402

from dispatch.services.replan import REPLAN_TIME_LIMIT_S, TherapistNow, replan_problem  # noqa: E402

NOW_MIN = 10 * 60
LATE = {"th00": 25, "th01": 25, "th02": 40}


def _state_at_now(problem: optimizer.Problem, plan: optimizer.Solution) -> tuple[dict[str, TherapistNow], set[str]]:
    visits = {v.id: v for v in problem.visits}
    states, settled = {}, set()
    for route in plan.routes:
        started = [s for s in route.stops if s.start_min <= NOW_MIN]
        settled |= {s.visit_id for s in started}
        last = started[-1] if started else None
        free = max(NOW_MIN, last.buffer_end_min if last else NOW_MIN) + LATE.get(route.therapist_id, 0)
        where = visits[last.visit_id].location if last else None
        states[route.therapist_id] = TherapistNow(
            therapist_id=0, lat=where.lat if where else None, lon=where.lon if where else None,
            free_from_min=free, delay_min=LATE.get(route.therapist_id, 0), last_visit_id=None,
        )
    return states, settled


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--time-limit", type=float, default=REPLAN_TIME_LIMIT_S)
    parser.add_argument("--morning-time-limit", type=float, default=10.0)
    args = parser.parse_args()

    day = generate_day(seed=args.seed, therapists=30, visits=250)
    plan = optimizer.solve(day, time_limit_s=args.morning_time_limit, seed=args.seed)
    states, settled = _state_at_now(day, plan)
    urgent = [
        dataclasses.replace(v, id=f"urgent-{k}", priority=optimizer.Priority.URGENT,
                            windows=(optimizer.TimeWindow(NOW_MIN, NOW_MIN + 240),))
        for k, v in enumerate(day.visits[:3])
    ]
    day = dataclasses.replace(day, visits=day.visits + tuple(urgent))

    started = time.perf_counter()
    current = {s.visit_id: r.therapist_id for r in plan.routes for s in r.stops}
    narrowed = replan_problem(
        problem=day, states=states, now_min=NOW_MIN, settled_visit_ids=settled, current=current
    )
    replan = optimizer.solve(narrowed, time_limit_s=args.time_limit, seed=args.seed)
    wall_s = time.perf_counter() - started

    before = {s.visit_id: (r.therapist_id, s.start_min) for r in plan.routes for s in r.stops}
    after = {s.visit_id: (r.therapist_id, s.start_min) for r in replan.routes for s in r.stops}
    moved = sum(1 for v, (t, m) in after.items() if v in before and before[v] == (t, before[v][1]) and m != before[v][1])
    reassigned = sum(1 for v, (t, _) in after.items() if v in before and before[v][0] != t)
    dropped = sum(1 for v in before if v not in settled and v not in after)
    added = sum(1 for v in after if v not in before)
    print(f"morning plan: {plan.kpis.assigned} assigned, {plan.kpis.unassigned} unassigned ({plan.status})")
    print(f"at 10:00: {len(settled)} visits started or done, {len(narrowed.visits)} left to re-plan "
          f"for {len(narrowed.therapists)} therapists (3 urgent added, 3 therapists late)")
    print(f"re-plan: wall {wall_s:.2f} s (solver {replan.solve_time_s:.2f} s, limit {args.time_limit} s), "
          f"status {replan.status}, {replan.kpis.assigned} assigned, {replan.kpis.unassigned} unassigned")
    print(f"diff: moved {moved}, reassigned {reassigned}, dropped {dropped}, added {added}")
    print(f"target < 2 s: {'met' if wall_s < 2 else 'NOT met'}")


if __name__ == "__main__":
    main()
