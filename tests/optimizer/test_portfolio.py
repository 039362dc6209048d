"""Two searches in two processes: the better plan of the two is kept, reproducibly."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from optimizer import Options, check_solution, solve
from optimizer.benchmarks.therapist_day import generate_day
from optimizer.portfolio import SEED_SHIFT, plan_rank, searches, solve_in_processes
from optimizer.solution import BUDGET_STOPS

BUDGET = Options(time_limit_s=30, solution_limit=30, seed=3)


def _plan(solution) -> list:
    return sorted((r.therapist_id, tuple(s.visit_id for s in r.stops)) for r in solution.routes)


def test_two_processes_keep_the_better_of_their_two_searches():
    """The answer is the better-ranked plan of the default search and the smaller-ruin one, each as one process
    finds it."""
    p = generate_day(5, therapists=5, visits=40)
    both = solve_in_processes(p, options=BUDGET, processes=2)
    alone = [solve(p, options=o) for o in searches(BUDGET, 2)]
    best = min(alone, key=lambda s: plan_rank(p, s))
    assert _plan(both) == _plan(best) and both.objective == best.objective
    assert check_solution(p, both) == []


def test_the_searches_differ_in_ruin_then_in_seed_and_each_runs_in_one_process():
    first, second, third = searches(replace(BUDGET, processes=3), 3)
    assert first == replace(BUDGET, processes=1)
    assert (second.ruin_avg_removed, second.ruin_max_sequence, second.seed) == (3, 2, 3)
    assert (third.ruin_avg_removed, third.seed, third.processes) == (3, 4, 1)


def test_a_seed_shift_partner_keeps_the_first_searchs_ruin_and_takes_the_next_seeds():
    first, second, third = searches(replace(BUDGET, processes=3), 3, SEED_SHIFT)
    assert first == replace(BUDGET, processes=1)
    assert second == replace(first, seed=4) and third == replace(first, seed=5)


def test_the_solomon_bench_pairs_its_search_with_a_seed_shift(monkeypatch):
    """On Solomon the day plans' smaller-ruin partner loses (results file, "Solomon-specific second search")."""
    from optimizer.benchmarks import solomon

    asked = []

    def recorded(problem, *, options, processes, partner=None):
        asked.append(searches(options, processes, partner))
        return solve(problem, options=replace(options, deterministic=True, solution_limit=5))

    monkeypatch.setattr(solomon, "solve_in_processes", recorded)
    xy = np.array([[0, 0], [1, 0], [0, 1]])
    instance = solomon.Instance("tiny", 2, 10, xy, [0, 1, 1], [0, 0, 0], [100, 100, 100], [1, 1, 1])
    solomon.run_ours(instance, 1, processes=2)
    [(first, second)] = asked
    assert (second.ruin_avg_removed, second.ruin_max_sequence) == (first.ruin_avg_removed, first.ruin_max_sequence)
    assert second.seed == first.seed + 1


def test_a_plan_leaving_out_an_urgent_visit_ranks_below_one_leaving_out_more_routine_ones():
    p = generate_day(5, therapists=5, visits=40)
    plan = solve(p, options=BUDGET)
    urgent = next(v for v in p.visits if v.priority.name == "URGENT")
    routine = [v for v in p.visits if v.priority.name == "ROUTINE"][:3]
    template = plan.unassigned[0]  # the day is overbooked: some visit is always left out
    one_urgent = replace(plan, unassigned=(replace(template, visit_id=urgent.id),), objective=0)
    three_routine = replace(
        plan, unassigned=tuple(replace(template, visit_id=v.id) for v in routine), objective=10**9
    )
    assert plan_rank(p, three_routine) < plan_rank(p, one_urgent)


def test_the_product_mode_with_two_processes_gives_the_same_plan_twice():
    """Deterministic mode: each search stops on its solution budget, so the kept plan is the same run to run."""
    p = generate_day(6, therapists=6, visits=45)
    options = Options(time_limit_s=2, seed=1, processes=2, wall_cap_s=120)
    first, again = solve(p, options=options), solve(p, options=options)
    assert first.stopped_by == again.stopped_by in BUDGET_STOPS
    assert _plan(first) == _plan(again)
    assert check_solution(p, first) == []


def _solve_and_report(day, options, queue) -> None:
    try:
        queue.put(("ok", _plan(solve(day, options=options))))
    except Exception as exc:  # noqa: BLE001 (reported to the test, whatever it is)
        queue.put(("failed", f"{type(exc).__name__}: {exc}"))


def test_in_a_celery_prefork_worker_the_first_search_runs_alone():
    """A Celery worker's pool process is daemonic (billiard's, as `make worker` runs) and may not start the second
    search's process: there the plan is the first search's, as in one process."""
    import billiard

    day = generate_day(5, therapists=5, visits=40)
    queue = billiard.Queue()
    worker = billiard.Process(target=_solve_and_report, args=(day, replace(BUDGET, processes=2), queue), daemon=True)
    worker.start()
    outcome, routes = queue.get(timeout=300)
    worker.join(timeout=30)
    assert outcome == "ok", routes
    assert routes == _plan(solve(day, options=BUDGET))


def test_processes_below_one_are_refused():
    with pytest.raises(ValueError, match="processes: 0 is below 1"):
        solve_in_processes(generate_day(0, therapists=2, visits=5), processes=0)
    with pytest.raises(ValueError, match="processes: 0 is below 1"):
        Options(processes=0)


def test_two_plans_in_two_threads_at_once_each_get_a_plan_of_their_own_day():
    """The embedded mode plans in threads of one process: each call's forked search reads its own problem."""
    from concurrent.futures import ThreadPoolExecutor

    first, other = (generate_day(seed, therapists=4, visits=30) for seed in (7, 8))
    other = replace(other, visits=tuple(replace(v, id=f"other-{v.id}") for v in other.visits))  # ids apart
    days = [first, other]
    budget = Options(time_limit_s=30, solution_limit=15, seed=1)
    with ThreadPoolExecutor(max_workers=2) as threads:
        plans = list(threads.map(lambda p: solve_in_processes(p, options=budget, processes=2), days))
    for day, plan in zip(days, plans, strict=True):
        ids = {v.id for v in day.visits}
        served = {s.visit_id for r in plan.routes for s in r.stops}
        assert served and served <= ids and {u.visit_id for u in plan.unassigned} <= ids
        assert check_solution(day, plan) == []
