"""A generated Berlin therapist day (30 therapists, 250 visits) through our optimiser and VROOM."""

from __future__ import annotations

import math
import os
import random
import time
from datetime import timedelta

from optimizer.check import check_solution
from optimizer.problem import Break, Location, Priority, Problem, Therapist, TimeWindow, Visit
from optimizer.options import Options
from optimizer.solution import Solution
from optimizer.portfolio import solve_in_processes
from optimizer.solve import solve
from optimizer.travel import GeodesicTravel, clear_matrix_cache

CENTRE = (52.5200, 13.4050)  # Berlin, Alexanderplatz
SKILLS = ("lymphedema", "oncology", "paediatric")
KM_PER_DEG_LAT = 111.0


def _near(rng: random.Random, radius_km: float) -> Location:
    r, a = radius_km * math.sqrt(rng.random()), rng.uniform(0, 2 * math.pi)
    lat = CENTRE[0] + r * math.sin(a) / KM_PER_DEG_LAT
    lon = CENTRE[1] + r * math.cos(a) / (KM_PER_DEG_LAT * math.cos(math.radians(CENTRE[0])))
    return Location(round(lat, 5), round(lon, 5))


def generate_day(seed: int = 0, therapists: int = 30, visits: int = 250) -> Problem:
    """Homes, hospitals and assisted-living facilities; skills, buffers, breaks and priorities."""
    rng = random.Random(seed)
    hospitals = [(f"hospital-{k}", _near(rng, 6), 10) for k in range(4)]
    facilities = [(f"assisted-{k}", _near(rng, 9), 5) for k in range(8)]
    team = []
    for i in range(therapists):
        home = _near(rng, 10)
        early = rng.random() < 0.5
        lunch = rng.choice([690, 720, 750])
        team.append(
            Therapist(
                id=f"th{i:02d}",
                start=home,
                end=home,
                shift_start_min=450 if early else 600,
                shift_end_min=960 if early else 1110,
                breaks=(Break(lunch if early else lunch + 60, (lunch if early else lunch + 60) + 60, 30),),
                skills=frozenset(s for s in SKILLS if rng.random() < 0.35),
                max_visits=rng.choice([None, 8, 9]),
                speed_kmh=rng.choice([25.0, 25.0, 18.0]),
            )
        )
    work = []
    for j in range(visits):
        kind = rng.random()
        site = overhead = None
        if kind < 0.2:
            site, location, overhead = rng.choice(hospitals)
            windows = (TimeWindow(540, 900),)
        elif kind < 0.4:
            site, location, overhead = rng.choice(facilities)
            windows = (TimeWindow(rng.choice([480, 540, 600]), rng.choice([780, 840, 960])),)
        else:
            location = _near(rng, 12)
            start = rng.randrange(480, 960, 30)
            windows = (TimeWindow(start, min(start + rng.choice([60, 120, 180]), 1080)),)
            if rng.random() < 0.2 and start + 300 < 1050:
                windows += (TimeWindow(start + 240, start + 300),)
        work.append(
            Visit(
                id=f"v{j:03d}",
                location=location,
                duration_min=rng.choice([30, 45, 60, 60, 90]),
                buffer_min=rng.choice([0, 5, 10, 15]),
                windows=windows,
                required_skills=frozenset(s for s in SKILLS if rng.random() < 0.08),
                priority=rng.choices(list(Priority), weights=[70, 20, 10])[0],
                preferred_therapists=frozenset({f"th{rng.randrange(therapists):02d}"})
                if rng.random() < 0.3
                else frozenset(),
                site_id=site,
                overhead_min=overhead or 0,
            )
        )
    return Problem(tuple(team), tuple(work), travel=GeodesicTravel())


def run_vroom(problem: Problem, time_limit_s: float) -> dict:
    """The same day through VROOM: skills, windows, breaks, max visits, priorities, setup time."""
    import numpy as np
    import vroom

    locations = list(
        dict.fromkeys(
            [
                *(v.location for v in problem.visits),
                *(t.start for t in problem.therapists),
                *(t.end for t in problem.therapists),
            ]
        )
    )
    where = {loc: i for i, loc in enumerate(locations)}
    skill_ids = {s: k for k, s in enumerate(SKILLS)}
    speeds = sorted({t.speed_kmh for t in problem.therapists})
    minutes = {
        s: np.array([[problem.travel.travel_min(a, b, s) for b in locations] for a in locations]) for s in speeds
    }
    vr = vroom.Input()
    for s in speeds:
        vr.set_durations_matrix(profile=f"speed{s:g}", matrix_input=np.ceil(minutes[s] * 60).astype(np.int64))
    for k, t in enumerate(problem.therapists):
        vr.add_vehicle(
            vroom.Vehicle(
                k,
                start=where[t.start],
                end=where[t.end],
                profile=f"speed{t.speed_kmh:g}",
                skills={skill_ids[s] for s in t.skills},
                time_window=vroom.TimeWindow(t.shift_start_min * 60, t.shift_end_min * 60),
                breaks=[
                    vroom.Break(
                        b_id,
                        time_windows=[vroom.TimeWindow(b.earliest_start_min * 60, b.latest_start_min * 60)],
                        service=b.duration_min * 60,
                    )
                    for b_id, b in enumerate(t.breaks, start=100 * k)
                ],
                max_tasks=t.max_visits if t.max_visits is not None else 10_000,
            )
        )
    priority = {Priority.ROUTINE: 0, Priority.SOON: 30, Priority.URGENT: 100}
    vr.add_job(
        [
            vroom.Job(
                j,
                location=where[v.location],
                default_setup=v.overhead_min * 60,  # VROOM skips setup between jobs at one location
                default_service=(v.duration_min + v.buffer_min) * 60,
                skills={skill_ids[s] for s in v.required_skills},
                priority=priority[v.priority],
                time_windows=[vroom.TimeWindow(w.start_min * 60, w.end_min * 60) for w in v.windows],
            )
            for j, v in enumerate(problem.visits)
        ]
    )
    started = time.monotonic()
    solution = vr.solve(exploration_level=5, nb_threads=1, timeout=timedelta(seconds=time_limit_s))
    seconds = time.monotonic() - started
    jobs = solution.routes[solution.routes["type"] == "job"]
    travel = 0.0
    for vehicle_id, steps in solution.routes.groupby("vehicle_id"):
        t = problem.therapists[int(vehicle_id)]
        path = [
            where[t.start],
            *(where[problem.visits[int(j)].location] for j in steps[steps["type"] == "job"]["id"]),
            where[t.end],
        ]
        travel += sum(minutes[t.speed_kmh][a, b] for a, b in zip(path, path[1:], strict=False))
    served = {int(j) for j in jobs["id"]}
    left = [v for j, v in enumerate(problem.visits) if j not in served]
    return {
        "cost": travel + _penalties(left),
        "left_out": _left_out([v for j, v in enumerate(problem.visits) if j not in served]),
        "seconds": seconds,
        "assigned": len(jobs),
        "unassigned": len(problem.visits) - len(jobs),
        "travel_min": travel,
    }


REPLAN_BUDGET_S = 1.0
REPLAN_WALL_GOAL_S = 2.0


def run(
    *,
    seed: int = 0,
    time_limit_s: float = 15.0,
    peers: list[str] | None = None,
    therapists: int = 30,
    visits: int = 250,
) -> int:
    """Rows: ours as the product runs it (deterministic) in one process and in two (two searches,
    the better kept: ``optimizer.portfolio``), ours searching until the limit (as the
    peers do) in one process and in two (two seeds, the better kept), the 1 s re-plan from a
    cold travel memo, and the peers. ``cost``: travel minutes plus the default penalties of
    the visits left out (``Options``), the figure the objective ranks plans by."""
    print("solver,seconds,assigned,unassigned,travel_min,cost,stopped_by,checker,left_out_urgent/soon/routine")
    problem = generate_day(seed, therapists=therapists, visits=visits)
    solution, wall, violations = _row("ours (1 process)", problem, Options(time_limit_s=time_limit_s, seed=seed))
    _, _, two_violations = _row("ours (2 processes)", problem, Options(time_limit_s=time_limit_s, seed=seed), processes=2)
    violations += two_violations
    timed = Options(time_limit_s=time_limit_s, seed=seed, deterministic=False)
    _, _, timed_violations = _row("ours-timed (1 process)", problem, timed)
    _, _, two_violations = _row("ours-timed (2 processes)", problem, timed, processes=2)
    timed_violations += two_violations
    clear_matrix_cache()
    replan_problem = generate_day(seed, therapists=therapists, visits=visits)
    _, replan_wall, replan_violations = _row(
        f"ours-replan-{REPLAN_BUDGET_S:g}s", replan_problem, Options(time_limit_s=REPLAN_BUDGET_S, seed=seed)
    )
    if "vroom" in (peers or []):
        v = run_vroom(problem, time_limit_s)
        figures = f"{v['assigned']},{v['unassigned']},{v['travel_min']:.0f},{v['cost']:.0f}"
        print(f"vroom,{v['seconds']:.2f},{figures},,not checked,{v['left_out']}")
    k = solution.kpis
    codes = {}
    for u in solution.unassigned:
        codes[u.code] = codes.get(u.code, 0) + 1
    print(f"# ours: unassigned by reason {codes}; utilisation {k.utilisation:.2f}; continuity {k.continuity_rate}")
    verdict = "within" if replan_wall < REPLAN_WALL_GOAL_S else "OVER"
    goal = f"{verdict} the {REPLAN_WALL_GOAL_S:g} s goal"
    print(f"# replan: {REPLAN_BUDGET_S:g} s budget, wall {replan_wall:.2f} s ({goal})")
    for v in violations[:20]:
        print(f"# VIOLATION {v.kind}: {v.message}")
    return 1 if violations or timed_violations or replan_violations else 0


SCALE_WALL_GOAL_S = 60.0


def run_scale(*, seed: int = 0, time_limit_s: float = 60.0, therapists: int = 200, visits: int = 2000) -> int:
    """Issue 15's scale goal: a large generated day through ``solve`` as the product calls it
    (above ``decompose.DECOMPOSE_ABOVE`` it is planned in regions), deterministic and searching
    until the limit; the urgent visits served of those any therapist could serve alone, the wall
    time of the whole call, the machine's load beside it. No peer: VROOM's matrices for this size
    take longer to build here than the plan."""
    from optimizer.analysis import prefilter

    problem = generate_day(seed, therapists=therapists, visits=visits)
    possible = {v.id for v in prefilter(problem)[0]}
    urgent = [v.id for v in problem.visits if v.priority == Priority.URGENT]
    print(f"# {therapists} therapists, {visits} visits, seed {seed}, limit {time_limit_s:g} s; load {_load()}")
    print("solver,seconds,assigned,unassigned,urgent_served/servable/all,travel_min,cost,stopped_by,checker")
    failed = False
    for label, deterministic in (("ours", True), ("ours-timed", False)):
        clear_matrix_cache()  # each row pays for its travel matrices, as a fresh worker would
        started = time.monotonic()
        solution = solve(problem, options=Options(time_limit_s=time_limit_s, seed=seed, deterministic=deterministic))
        wall = time.monotonic() - started
        violations = check_solution(problem, solution)
        failed |= bool(violations)
        k = solution.kpis
        served = {s.visit_id for r in solution.routes for s in r.stops}
        urgent_figures = f"{sum(1 for u in urgent if u in served)}/{sum(1 for u in urgent if u in possible)}/{len(urgent)}"
        left = [v for v in problem.visits if v.id not in served]
        checker = f"{len(violations)} VIOLATIONS" if violations else "ok"
        print(
            f"{label},{wall:.2f},{k.assigned},{k.unassigned},{urgent_figures},{k.travel_min:.0f},"
            f"{k.travel_min + _penalties(left):.0f},{solution.stopped_by},{checker}",
            flush=True,
        )
        verdict = "within" if wall <= SCALE_WALL_GOAL_S else "OVER"
        print(f"# {label}: wall {wall:.1f} s, {verdict} the {SCALE_WALL_GOAL_S:g} s goal; load {_load()}")
    return 1 if failed else 0


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _left_out(visits: list[Visit]) -> str:
    """Visits left out by priority, ``urgent/soon/routine``: the peers weigh priorities differently."""
    return "/".join(str(sum(1 for v in visits if v.priority == p)) for p in reversed(Priority))


def _penalties(visits: list[Visit]) -> float:
    """The default objective's price of leaving ``visits`` out, in travel minutes."""
    return sum(Options().penalty(v.priority) for v in visits)


def _row(label: str, problem: Problem, options: Options, processes: int = 1) -> tuple[Solution, float, list]:
    """Solve, check and print one CSV row; the wall time includes the whole solve() call."""
    started = time.monotonic()
    solution = solve_in_processes(problem, options=options, processes=processes)
    wall = time.monotonic() - started
    violations = check_solution(problem, solution)
    k = solution.kpis
    checker = f"{len(violations)} VIOLATIONS" if violations else "ok"
    visits = {v.id: v for v in problem.visits}
    left = [visits[u.visit_id] for u in solution.unassigned]
    figures = f"{k.assigned},{k.unassigned},{k.travel_min:.0f},{k.travel_min + _penalties(left):.0f}"
    left_out = _left_out(left)
    print(f"{label},{wall:.2f},{figures},{solution.stopped_by},{checker},{left_out}", flush=True)
    return solution, wall, violations
