"""Large days are planned in regions: each region solved on its own, the plan mended across borders.

The threshold is lowered here so a day of 120 visits stands in for one of 2,000.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from optimizer import Options, Priority, TimeWindow, Unassigned, check_solution, solve
from optimizer.benchmarks.therapist_day import generate_day
from optimizer import decompose, portfolio

BUDGET = Options(time_limit_s=30, solution_limit=40, seed=2)
STATIC = {"no_skill", "no_eligible_therapist", "outside_shifts", "unreachable"}


@pytest.fixture
def small_regions(monkeypatch):
    """Days above 50 visits decomposed into regions of about 30; the region solves counted."""
    monkeypatch.setattr(decompose, "DECOMPOSE_ABOVE", 50)
    monkeypatch.setattr(decompose, "REGION_VISITS", 30)
    calls = []
    real = portfolio.solve_each

    def counted(jobs, **kwargs):
        calls.append([p for p, _ in jobs])
        return real(jobs, **kwargs)

    monkeypatch.setattr(portfolio, "solve_each", counted)
    return calls


def _urgent_left(day, solution):
    priority = {v.id: v.priority for v in day.visits}
    return [u for u in solution.unassigned if priority[u.visit_id] == Priority.URGENT]


def test_a_day_above_the_threshold_is_planned_in_regions_and_checks_clean(small_regions):
    day = generate_day(4, therapists=16, visits=120)
    solution = solve(day, options=BUDGET)
    [regions] = small_regions
    assert len(regions) == 4  # 2 processes x ceil(120 / (2 x 30))
    assert sorted(v.id for r in regions for v in r.visits) == sorted(v.id for v in day.visits)
    assert sorted(t.id for r in regions for t in r.therapists) == sorted(t.id for t in day.therapists)
    assert check_solution(day, solution) == []
    assert solution.kpis.assigned + solution.kpis.unassigned == len(day.visits)
    assert solution.stopped_by == "solution_limit"
    # Urgent visits are left out only when nobody could serve them even alone.
    assert all(u.code in STATIC for u in _urgent_left(day, solution))


def test_an_overbooked_day_spends_its_therapists_on_urgent_visits_first(small_regions):
    """Six therapists for 120 visits: about a third can be served, every urgent one among them."""
    day = generate_day(6, therapists=6, visits=120)
    solution = solve(day, options=BUDGET)
    assert small_regions
    assert check_solution(day, solution) == []
    assert solution.kpis.unassigned > 40
    assert all(u.code in STATIC for u in _urgent_left(day, solution))


def test_a_visit_only_one_far_away_therapist_may_serve_goes_to_that_therapists_region(small_regions):
    day = generate_day(4, therapists=16, visits=120)
    only = day.therapists[-1].id
    visits = list(day.visits)
    visits[0] = replace(visits[0], allowed_therapists=frozenset({only}), required_skills=frozenset())
    day = replace(day, visits=tuple(visits))
    solution = solve(day, options=BUDGET)
    [regions] = small_regions
    [home] = [r for r in regions if visits[0].id in {v.id for v in r.visits}]
    assert only in {t.id for t in home.therapists}
    assert check_solution(day, solution) == []


def test_a_decomposed_day_is_the_same_plan_for_the_same_seed(small_regions):
    day = generate_day(7, therapists=14, visits=110)
    first, second = solve(day, options=BUDGET), solve(day, options=BUDGET)
    assert first.routes == second.routes
    assert first.objective == second.objective
    assert first.stopped_by == second.stopped_by == "solution_limit"


def test_left_out_visits_are_offered_across_region_borders():
    """The mend puts a visit no region planned on the route of a therapist with room, timed and checked."""
    day = generate_day(4, therapists=30, visits=120)
    extra = replace(day.visits[0], id="extra", windows=(TimeWindow(480, 1000),), duration_min=15, buffer_min=0,
                    required_skills=frozenset(), site_id=None, overhead_min=0, location=day.therapists[3].start)
    whole = replace(day, visits=(*day.visits, extra))
    plan = solve(day, options=BUDGET)
    data = decompose.build_model_data(whole, BUDGET, list(whole.visits))
    mended = decompose.mend(data, list(plan.routes))
    served = {s.visit_id for r in mended for s in r.stops}
    assert served == {s.visit_id for r in plan.routes for s in r.stops} | {"extra"}
    unassigned = [u for u in plan.unassigned]
    assert check_solution(whole, replace(plan, routes=tuple(mended), unassigned=tuple(unassigned))) == []


def test_days_at_or_below_the_threshold_and_re_plans_take_the_one_model(small_regions):
    solve(generate_day(4, therapists=8, visits=50), options=BUDGET)
    day = generate_day(4, therapists=16, visits=120)
    booked = replace(day, visits=tuple(replace(v, current_therapist=day.therapists[0].id) if k == 0 else v
                                       for k, v in enumerate(day.visits)))
    solve(booked, options=BUDGET)
    assert small_regions == []


def test_the_250_visit_day_keeps_the_one_model_and_the_350_visit_day_is_planned_in_regions(monkeypatch):
    """At the real threshold: the benchmarks' normal day (30 / 250) is one model, solved as before."""
    from optimizer.analysis import prefilter

    regions = []
    monkeypatch.setattr(portfolio, "solve_each", lambda jobs, **kwargs: regions.append(jobs) or [])
    normal = generate_day(0)
    assert not decompose.should_decompose(normal, prefilter(normal)[0])
    larger = generate_day(0, therapists=42, visits=350)
    assert decompose.should_decompose(larger, prefilter(larger)[0])
    solution = solve(normal, options=Options(time_limit_s=15, solution_limit=3, seed=0))
    assert regions == [] and solution.stopped_by == "solution_limit"
    assert check_solution(normal, solution) == [] and solution.kpis.assigned + solution.kpis.unassigned == 250


def test_the_scale_benchmark_prints_served_urgent_travel_wall_and_the_checker(small_regions, capsys):
    from optimizer.cli import main

    assert main(["bench", "--scale", "--therapists", "10", "--visits", "70", "--time-limit", "1"]) == 0
    rows = [line.split(",") for line in capsys.readouterr().out.splitlines() if not line.startswith("#")]
    assert rows[0][:5] == ["solver", "seconds", "assigned", "unassigned", "urgent_served/servable/all"]
    assert [r[0] for r in rows[1:]] == ["ours", "ours-timed"]
    assert all(r[-1] == "ok" and int(r[2]) + int(r[3]) == 70 for r in rows[1:])
    assert len(small_regions) == 2


def test_an_urgent_visit_left_out_takes_the_place_of_a_routine_one_across_a_border():
    """Every route full (each therapist at their visit limit): the urgent visit no region planned
    displaces a lower-priority visit, and the changed route checks clean."""
    day = generate_day(6, therapists=6, visits=120)
    plan = solve(day, options=BUDGET)
    stops = {r.therapist_id: len(r.stops) for r in plan.routes}
    full = tuple(replace(t, max_visits=stops.get(t.id, 0)) for t in day.therapists)
    host = max(plan.routes, key=lambda r: len(r.stops))
    first = next(v for v in day.visits if v.id == host.stops[0].visit_id)
    urgent = replace(first, id="urgent", priority=Priority.URGENT, windows=(TimeWindow(480, 1000),),
                     required_skills=frozenset())
    whole = replace(day, therapists=full, visits=(*day.visits, urgent))
    data = decompose.build_model_data(whole, BUDGET, list(whole.visits))
    mended = decompose.mend(data, list(plan.routes))
    assert "urgent" in {s.visit_id for r in mended for s in r.stops}
    assert sum(len(r.stops) for r in mended) == sum(len(r.stops) for r in plan.routes)
    left = [v.id for v in whole.visits if v.id not in {s.visit_id for r in mended for s in r.stops}]
    solution = replace(plan, routes=tuple(mended), unassigned=tuple(Unassigned(i, "displaced", "out") for i in left))
    assert check_solution(whole, solution) == []


def test_a_site_busier_than_a_region_is_split_across_regions_not_solved_as_one(small_regions):
    """Every visit at one facility: the site is cut into region-sized parts, and no region splits again."""
    day = generate_day(4, therapists=16, visits=120)
    site = day.visits[0].location
    day = replace(day, visits=tuple(replace(v, location=site, site_id="big", overhead_min=5) for v in day.visits))
    solution = solve(day, options=BUDGET)
    [regions] = small_regions
    assert len(regions) == 4 and max(len(r.visits) for r in regions) <= 2 * decompose.REGION_VISITS
    assert check_solution(day, solution) == []


def _solve_and_report(day, queue) -> None:
    try:
        solution = solve(day, options=BUDGET)
        queue.put(("ok", sorted((r.therapist_id, tuple(s.visit_id for s in r.stops)) for r in solution.routes),
                   check_solution(day, solution)))
    except Exception as exc:  # noqa: BLE001 (reported to the test, whatever it is)
        queue.put(("failed", f"{type(exc).__name__}: {exc}", None))


def test_a_large_day_planned_in_a_celery_prefork_worker_solves_its_regions_one_after_the_other(small_regions):
    """A Celery worker's pool process is daemonic (billiard's, as `make worker` runs), and a daemonic process may not
    start the regions' processes: there they are solved in turn, to the same plan."""
    import billiard

    day = generate_day(4, therapists=16, visits=120)
    queue = billiard.Queue()
    worker = billiard.Process(target=_solve_and_report, args=(day, queue), daemon=True)
    worker.start()
    outcome, routes, problems = queue.get(timeout=300)
    worker.join(timeout=30)
    assert outcome == "ok", routes
    assert problems == []
    here = solve(day, options=BUDGET)
    assert routes == sorted((r.therapist_id, tuple(s.visit_id for s in r.stops)) for r in here.routes)
