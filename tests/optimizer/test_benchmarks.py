"""The benchmark paths: a Solomon instance and a generated therapist day solve to checked plans."""

from __future__ import annotations

import time

import pytest

from optimizer import check_solution, solve
from optimizer.benchmarks.solomon import data_dir, read_instance, route_distance, solomon_options, to_problem
from optimizer.benchmarks.therapist_day import generate_day


def test_generated_day_solves_without_violations():
    """A small generated day (5 therapists, 40 visits) gives a plan the checker accepts."""
    day = generate_day(seed=1, therapists=5, visits=40)
    solution = solve(day, time_limit_s=1)
    assert check_solution(day, solution) == [] and solution.kpis.assigned > 0


@pytest.mark.skipif(not (data_dir() / "C101.txt").exists(), reason="Solomon data not present")
def test_solomon_c101_is_served_completely_and_checks():
    """C101 in 2 s: all 100 customers served, capacity and windows hold, distance near 828.94."""
    instance = read_instance(data_dir() / "C101.txt")
    problem = to_problem(instance)
    solution = solve(problem, options=solomon_options(2))
    assert solution.unassigned == () and check_solution(problem, solution) == []
    routes = [[int(s.visit_id) for s in r.stops] for r in solution.routes]
    assert route_distance(instance, routes) < 828.94 * 1.03


def test_replan_of_a_full_day_returns_within_two_seconds_for_a_one_second_budget():
    """The real-time re-plan: 30 therapists, 250 visits, 1 s budget, < 2 s wall including the build.

    Other engineers share the 2 cores; a second try absorbs a moment of heavy load (seen: load
    average 5 during an API load test), so the test fails only when both tries are over.
    """
    from optimizer.travel import clear_matrix_cache

    walls = []
    for _ in range(2):
        clear_matrix_cache()
        day = generate_day(seed=0)
        started = time.monotonic()
        solution = solve(day, time_limit_s=1.0)
        walls.append(time.monotonic() - started)
        assert check_solution(day, solution) == [] and solution.kpis.assigned > 150
        if walls[-1] < 2.0:
            break
    assert min(walls) < 2.0, f"re-plan took {walls} s"


def test_a_budget_too_short_for_a_first_plan_still_returns_a_plan():
    """0.05 s cannot hold the first plan of a full day (about 0.5 s): the search gets enough for it."""
    day = generate_day(seed=0)
    solution = solve(day, time_limit_s=0.05)
    assert solution.status == "feasible" and solution.kpis.assigned > 150
    assert check_solution(day, solution) == []
