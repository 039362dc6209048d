"""One test (or a penalized/unpenalized pair) per business rule of the model."""

from __future__ import annotations

import pytest

from optimizer import Options, Priority, Solution, check_solution, solve
from optimizer.solution import BUDGET_STOPS
from tests.optimizer.builders import lunch, problem, therapist, visit


def served_by(solution: Solution) -> dict[str, str]:
    return {s.visit_id: r.therapist_id for r in solution.routes for s in r.stops}


def stop_of(solution: Solution, visit_id: str):
    return next(s for r in solution.routes for s in r.stops if s.visit_id == visit_id)


def solved(p, options):
    solution = solve(p, options=options)
    assert check_solution(p, solution) == []
    return solution


def test_small_day_is_fully_served_without_violations(ok_small, fast):
    """All four visits of the small instance are planned and the checker finds nothing."""
    solution = solved(ok_small, fast)
    assert set(served_by(solution)) == {"a", "b", "c", "d"}
    assert solution.kpis.assigned == 4 and solution.unassigned == ()


def test_visit_starts_inside_its_window(fast):
    """A visit whose window opens at 700 starts no earlier than 700."""
    solution = solved(problem([therapist()], [visit("a", windows=((700, 720),))]), fast)
    assert 700 <= stop_of(solution, "a").start_min <= 720


def test_visit_with_a_one_minute_window_starts_exactly_then(fast):
    """An appointment at 700 sharp (window 700-700) starts at 700, not a minute later."""
    solution = solved(problem([therapist()], [visit("a", windows=((700, 700),))]), fast)
    assert stop_of(solution, "a").start_min == 700


def test_visit_with_two_windows_uses_the_one_inside_the_shift(fast):
    """With windows 480-500 and 700-800 and a shift from 600, the visit starts in the second."""
    p = problem([therapist(shift=(600, 1000))], [visit("a", windows=((480, 500), (700, 800)))])
    assert 700 <= stop_of(solved(p, fast), "a").start_min <= 800


def test_visit_needing_a_skill_goes_to_the_skilled_therapist(fast):
    """Only t2 holds 'lymph', so t2 serves the visit needing it."""
    p = problem(
        [therapist("t1"), therapist("t2", skills=frozenset({"lymph"}))],
        [visit("a", 50, required_skills=frozenset({"lymph"}))],
    )
    assert served_by(solved(p, fast)) == {"a": "t2"}


def test_forbidden_therapist_is_never_used(fast):
    """A visit forbidding the nearer t1 goes to t2."""
    p = problem(
        [therapist("t1"), therapist("t2", cost_weight=5.0)], [visit("a", forbidden_therapists=frozenset({"t1"}))]
    )
    assert served_by(solved(p, fast)) == {"a": "t2"}


def test_allowed_therapists_limit_who_serves(fast):
    """A visit allowing only t2 goes to t2 even though t2 costs more."""
    p = problem([therapist("t1"), therapist("t2", cost_weight=5.0)], [visit("a", allowed_therapists=frozenset({"t2"}))])
    assert served_by(solved(p, fast)) == {"a": "t2"}


def test_visit_outside_every_shift_is_unassigned_with_reason(fast):
    """A 6:00-7:00 visit with an 8:00 shift is left out as outside_shifts."""
    solution = solved(problem([therapist()], [visit("a", windows=((360, 420),))]), fast)
    assert [(u.visit_id, u.code) for u in solution.unassigned] == [("a", "outside_shifts")]


def test_missing_skill_is_reported_by_name(fast):
    """Nobody holds 'oncology', and the reason says so."""
    solution = solved(problem([therapist()], [visit("a", required_skills=frozenset({"oncology"}))]), fast)
    assert solution.unassigned[0].code == "no_skill" and "oncology" in solution.unassigned[0].reason


def test_visit_too_far_to_reach_in_time_is_unreachable(fast):
    """A visit 200 minutes away whose window closes at 500 cannot be reached from an 8:00 start."""
    solution = solved(problem([therapist()], [visit("a", 200, windows=((480, 500),))]), fast)
    assert solution.unassigned[0].code == "unreachable"


def test_break_is_taken_inside_its_range_and_not_during_a_visit(fast):
    """The lunch break is placed between 12:00 and 13:00 and overlaps no visit."""
    visits = [visit(f"v{i}", 10 + i, windows=((660, 900),), duration=60) for i in range(3)]
    solution = solved(problem([therapist(breaks=(lunch(),))], visits), fast)
    (route,) = solution.routes
    (placed,) = route.breaks
    assert 720 <= placed.start_min <= 780 and placed.end_min - placed.start_min == 30
    assert all(placed.end_min <= s.start_min or s.buffer_end_min <= placed.start_min for s in route.stops)


def test_max_visits_caps_a_route(fast):
    """t1 may serve two visits, so with three visits and one therapist one is displaced."""
    solution = solved(problem([therapist(max_visits=2)], [visit(f"v{i}", 10 + i) for i in range(3)]), fast)
    assert solution.kpis.assigned == 2 and solution.unassigned[0].code == "displaced"


def test_max_working_minutes_caps_the_day(fast):
    """With 100 working minutes, two 30-minute visits 10 minutes out fit and a third does not."""
    solution = solved(problem([therapist(max_working_min=100)], [visit(f"v{i}", 10) for i in range(3)]), fast)
    assert solution.kpis.assigned == 2
    assert all(r.end_min - r.start_min <= 100 for r in solution.routes)


def test_capacity_limits_the_demand_on_a_route(fast):
    """Capacity 5 with demands 3, 3 serves one visit per therapist."""
    p = problem(
        [therapist("t1", capacity=5), therapist("t2", capacity=5)], [visit("a", demand=3), visit("b", demand=3)]
    )
    assert sorted(served_by(solved(p, fast)).values()) == ["t1", "t2"]


def test_pinned_visit_keeps_its_therapist_and_start(fast):
    """A visit pinned to t2 at 600 is served by t2 starting at exactly 600."""
    p = problem(
        [therapist("t1"), therapist("t2", cost_weight=5.0)], [visit("a", pinned_therapist="t2", pinned_start_min=600)]
    )
    solution = solved(p, fast)
    assert served_by(solution) == {"a": "t2"} and stop_of(solution, "a").start_min == 600


def test_same_site_visits_need_no_travel_and_one_check_in(fast):
    """Two visits at one facility: the second has no travel and starts right after the first."""
    visits = [visit(v, 30, site_id="home", overhead_min=10, windows=((480, 1000),)) for v in ("a", "b")]
    solution = solved(problem([therapist()], visits), fast)
    first, second = solution.routes[0].stops
    assert second.travel_min == 0 and second.start_min == first.buffer_end_min


def test_urgent_visit_is_kept_over_routine_when_time_is_short(fast):
    """Only one of two clashing visits fits; the urgent one is kept and the routine one displaced."""
    visits = [
        visit("routine", 10, windows=((500, 510),), duration=60),
        visit("urgent", 20, windows=((500, 510),), duration=60, priority=Priority.URGENT),
    ]
    solution = solved(problem([therapist()], visits), fast)
    assert set(served_by(solution)) == {"urgent"} and solution.unassigned[0].visit_id == "routine"


def test_continuity_unpenalized_when_the_preferred_therapist_is_close(fast):
    """Both therapists are equal, so the preferred one serves the visit."""
    p = problem([therapist("t1"), therapist("t2")], [visit("a", preferred_therapists=frozenset({"t2"}))])
    solution = solved(p, fast)
    assert served_by(solution) == {"a": "t2"} and solution.kpis.continuity_rate == 1.0


def test_continuity_penalized_but_overridden_when_too_costly(fast):
    """If the preferred therapist costs far more than the continuity cost, the other one serves."""
    p = problem(
        [therapist("t1"), therapist("t2", cost_weight=20.0)], [visit("a", preferred_therapists=frozenset({"t2"}))]
    )
    solution = solved(p, Options(time_limit_s=0.5, continuity_cost=30))
    assert served_by(solution) == {"a": "t1"} and solution.kpis.continuity_rate == 0.0


def test_progress_reports_improving_objectives(ok_small):
    """The progress callback sees at least one objective and never a worse one."""
    seen = []
    solve(ok_small, time_limit_s=0.5, progress=lambda t, cost, visits, travel: seen.append(cost))
    assert seen and seen == sorted(seen, reverse=True)


def test_progress_counts_the_visits_and_travel_of_the_plan_it_reports():
    """What a coordinator reads while the plan runs ("best so far: 1 visit, 12 min travel") is the plan's own."""
    seen = []
    solution = solve(problem([therapist("t1")], [visit("a")]), time_limit_s=0.5,
                     progress=lambda t, cost, visits, travel: seen.append((visits, travel)))
    assert seen[-1] == (1, pytest.approx(solution.kpis.travel_min)) and solution.kpis.assigned == 1


def test_same_seed_and_solution_limit_give_the_same_plan(ok_small):
    """With a solution limit the search is deterministic."""
    options = Options(time_limit_s=5, solution_limit=50, seed=3)
    first, second = solve(ok_small, options=options), solve(ok_small, options=options)
    assert first.routes == second.routes


def test_no_therapists_leaves_every_visit_unassigned_with_a_reason():
    """Without therapists nothing is planned, and each visit says why."""
    solution = solve(problem([], [visit("a")]), time_limit_s=0.5)
    assert solution.routes == () and [u.code for u in solution.unassigned] == ["outside_shifts"]
    assert solution.unassigned[0].reason == "No therapist is available that day (or has time left in it)."


def test_default_search_is_deterministic_for_a_seed_on_a_mid_size_day():
    """8 therapists, 60 visits: the default (deterministic) search stops on its solution budget
    and the same seed gives the identical routes, stop times included."""
    from optimizer.benchmarks.therapist_day import generate_day

    day = generate_day(seed=1, therapists=8, visits=60)
    # The product's budget for a 1 s limit; the wall cap, generous, only guards a loaded machine.
    options = Options(time_limit_s=1.0, seed=7, wall_cap_s=60)
    first, second = solve(day, options=options), solve(day, options=options)
    assert first.stopped_by == second.stopped_by in BUDGET_STOPS
    assert first.routes == second.routes and first.objective == second.objective


def test_deterministic_mode_lets_the_wall_clock_cut_the_search_only_at_its_cap_and_says_so():
    """A wall cap far below what the solution budget needs ends the search on the clock: stopped_by
    says time_limit, so a plan that may not repeat is never passed off as reproducible."""
    from optimizer.benchmarks.therapist_day import generate_day

    day = generate_day(seed=1, therapists=8, visits=60)
    solution = solve(day, options=Options(time_limit_s=30.0, wall_cap_s=0.5))
    # first_plan: the cap came even before the first plan, which the fallback then found.
    assert solution.stopped_by in ("time_limit", "first_plan") and solution.kpis.assigned > 0


def test_the_default_wall_cap_is_generous_in_deterministic_mode_and_the_limit_itself_in_time_mode():
    """Deterministic: three times the time limit (the budget is sized on the limit); time mode: the limit."""
    assert Options(time_limit_s=2.0).wall_limit_s == 6.0
    assert Options(time_limit_s=2.0, wall_cap_s=9.0).wall_limit_s == 9.0
    assert Options(time_limit_s=2.0, deterministic=False).wall_limit_s == 2.0
    with pytest.raises(ValueError, match="wall_cap_s: 0 is not positive"):
        Options(wall_cap_s=0)


def test_time_mode_searches_until_the_time_limit(ok_small):
    """deterministic=False searches until the (whole-call) time limit, not on a solution budget.

    Only the lower bound is checked: how far past its limit a loaded machine overruns is a figure
    for ``make bench``."""
    solution = solve(ok_small, options=Options(time_limit_s=0.5, deterministic=False))
    assert solution.stopped_by == "time_limit" and solution.solve_time_s >= 0.3
