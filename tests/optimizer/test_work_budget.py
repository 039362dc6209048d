"""Deterministic mode's second budget: a search whose ruins find nothing better ends on its work, not the clock."""
from __future__ import annotations

from optimizer import Options, check_solution, solve
from tests.optimizer.builders import lunch, problem, therapist, visit


def _settled_day():
    """Two therapists with a lunch each and more visits than they can serve: the first descent is as good as the
    search gets, so no ruin yields a better plan and the solution budget is never reached (before the work budget
    such a day ran to the wall cap, three times its limit, as the demo's Saturday did)."""
    therapists = [therapist(f"t{k}", shift=(480, 720), breaks=(lunch(600, 660, 30),)) for k in (1, 2)]
    visits = [visit(f"v{k}", 5 + k, duration=45, windows=((480, 700),)) for k in range(12)]
    return problem(therapists, visits)


def test_a_day_whose_ruins_find_nothing_better_stops_on_its_work_budget_with_the_same_plan_twice():
    day = _settled_day()
    # A cap no machine reaches in a test: the budget, not the clock, must end the search.
    options = Options(time_limit_s=1.0, wall_cap_s=120)
    first, second = solve(day, options=options), solve(day, options=options)
    assert first.stopped_by == second.stopped_by == "work_limit"
    assert first.routes == second.routes and first.objective == second.objective
    assert check_solution(day, first) == [] and first.kpis.assigned >= 6 and first.unassigned


def test_the_plan_read_back_after_the_budget_is_the_best_the_search_found(monkeypatch):
    """The budget ends the search by raising through OR-Tools, which leaves that model mid-search; the plan is the
    search's best read into a fresh model (filling left-out visits in afterwards can only make it cheaper)."""
    import importlib

    solve_module = importlib.import_module("optimizer.solve")
    watched = []
    real_watch = solve_module.watch
    monkeypatch.setattr(solve_module, "watch", lambda routing, budget: watched.append(real_watch(routing, budget)) or watched[-1])
    day = _settled_day()
    solution = solve(day, options=Options(time_limit_s=1.0, wall_cap_s=120))
    [work] = watched
    assert work.reached and work.best_cost is not None
    assert solution.stopped_by == "work_limit" and solution.objective <= work.best_cost
    assert check_solution(day, solution) == [] and all(u.reason for u in solution.unassigned)
