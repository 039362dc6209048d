"""Finishing a plan outside the search: left-out visits that fit go where OR-Tools' model accepts them."""

from __future__ import annotations

from optimizer import Options, check_solution
from optimizer.construction import insert_left_out, routes_of
from optimizer.model_data import build_model_data
from optimizer.solve import _build_model, search_parameters
from tests.optimizer.builders import lunch, problem, therapist, visit


def test_left_out_visits_that_fit_are_placed_and_the_objective_falls():
    """From an empty plan, every visit that fits is put on a route; the plan stays valid."""
    p = problem(
        [therapist("t1", breaks=(lunch(),)), therapist("t2", shift=(480, 700))],
        [visit("a", 10), visit("b", 20, windows=((600, 660),)), visit("c", 30), visit("d", 40, windows=((900, 960),))],
    )
    data = build_model_data(p, Options(), list(p.visits))
    routing, manager, _ = _build_model(data)
    params = search_parameters(Options())
    routing.CloseModelWithParameters(params)
    empty = routing.ReadAssignmentFromRoutes([[], []], True)
    filled = insert_left_out(routing, manager, data, empty, params)
    placed = {data.visits[n].id for r in routes_of(routing, manager, filled) for n in r}
    assert placed == {"a", "b", "c", "d"}
    assert filled.ObjectiveValue() < empty.ObjectiveValue()


def test_a_plan_with_nothing_that_fits_is_returned_unchanged():
    """A visit no route can take leaves the assignment as it was."""
    p = problem([therapist("t1", shift=(480, 600))], [visit("a", 10, duration=45), visit("b", 12, duration=60)])
    data = build_model_data(p, Options(), list(p.visits))
    routing, manager, _ = _build_model(data)
    params = search_parameters(Options())
    routing.CloseModelWithParameters(params)
    one = routing.ReadAssignmentFromRoutes([[manager.NodeToIndex(0)]], True)
    assert insert_left_out(routing, manager, data, one, params) is one


def test_the_solved_plan_stays_valid_after_finishing(ok_small):
    """Through solve: the finished plan passes the independent checker."""
    from optimizer import solve

    solution = solve(ok_small, options=Options(time_limit_s=5, solution_limit=1))
    assert check_solution(ok_small, solution) == [] and solution.kpis.assigned == 4


def test_a_search_that_finds_no_first_plan_returns_our_constructed_plan(monkeypatch):
    """OR-Tools finding nothing even in the fallback (a loaded machine, a large day) still gives a valid plan."""
    import importlib

    from optimizer import solve
    from optimizer.benchmarks.therapist_day import generate_day

    solve_module = importlib.import_module("optimizer.solve")
    monkeypatch.setattr(solve_module, "_search", lambda *args: (None, None))
    monkeypatch.setattr(solve_module, "_stopped_by", lambda *args: "time_limit")
    day = generate_day(seed=0, therapists=6, visits=50)
    solution = solve(day, options=Options(time_limit_s=1))
    assert solution.status == "feasible" and solution.stopped_by == "first_plan"
    assert solution.kpis.assigned > 30 and check_solution(day, solution) == []
