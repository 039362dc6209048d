"""Re-plans: stability costs, the current plan as first solution, booked times kept, local first."""

from __future__ import annotations

import dataclasses

import pytest

import importlib

from optimizer import Options, Priority, check_solution, replan, solve
from optimizer.warm_start import ABSENT, PINNED, SHIFT, WINDOW, keep_current_plan
from tests.optimizer.builders import at, lunch, problem, therapist, visit

OPTIONS = Options(time_limit_s=1.0)
REPLAN = importlib.import_module("optimizer.replan")  # the module; ``optimizer.replan`` is the function


def booked(id: str, x: float, start: int, who: str = "t1", **fields):
    """A visit booked with ``who`` at ``start`` (minutes), ``x`` minutes east of the depot."""
    return visit(id, x, current_therapist=who, current_start_min=start, **fields)


def starts(solution) -> dict[str, tuple[str, int]]:
    return {s.visit_id: (r.therapist_id, s.start_min) for r in solution.routes for s in r.stops}


def day_of(visits, *, t1_free: int = 480, t2_free: int = 480):
    return problem([therapist("t1", shift=(t1_free, 1020)), therapist("t2", shift=(t2_free, 1020))], visits)


def routes_of(visits) -> dict[str, list[str]]:
    routes: dict[str, list[str]] = {}
    for v in sorted(visits, key=lambda v: v.current_start_min):
        routes.setdefault(v.current_therapist, []).append(v.id)
    return routes


@pytest.fixture
def two_rounds():
    """t1 visits a0-a3 hourly from 09:00 east of the depot; t2 visits b0-b2 further east from 09:20."""
    mine = [booked(f"a{i}", 10 + 5 * i, 540 + 60 * i) for i in range(4)]
    theirs = [booked(f"b{i}", 40 + 5 * i, 560 + 50 * i, who="t2") for i in range(3)]
    return mine, theirs


# Stability costs (penalized / unpenalized pairs)


def test_booked_visit_moved_within_the_tolerance_is_unpenalized():
    """Taking a new 15-minute request first moves booked a by 15 minutes: free, so the request is taken."""
    a = booked("a", 10, 540, windows=((540, 900),))
    c = visit("c", 10, windows=((540, 545),), duration=15)
    solution = solve(problem([therapist()], [a, c]), options=OPTIONS, initial_routes={"t1": ["a"]})
    assert starts(solution) == {"c": ("t1", 540), "a": ("t1", 555)}


def test_booked_visit_moved_beyond_the_tolerance_is_penalized():
    """A 90-minute request first would move booked a by 90 minutes: dearer than leaving the request out."""
    a = booked("a", 10, 540, windows=((540, 900),))
    c = visit("c", 10, windows=((540, 545),), duration=90)
    solution = solve(problem([therapist()], [a, c]), options=OPTIONS, initial_routes={"t1": ["a"]})
    assert starts(solution) == {"a": ("t1", 540)}


def test_reassigning_a_booked_visit_is_penalized():
    """t2 is nearer, but a is booked with t1: it stays with t1."""
    a = booked("a", 30, 600)
    p = problem([therapist("t1", cost_weight=1.5), therapist("t2")], [a])
    assert starts(solve(p, options=OPTIONS, initial_routes={"t1": ["a"]}))["a"][0] == "t1"


def test_a_request_is_unpenalized_for_going_to_the_nearer_therapist():
    """The same visit, not booked, goes to whoever is cheaper."""
    a = visit("a", 30)
    p = problem([therapist("t1", cost_weight=1.5), therapist("t2")], [a])
    assert starts(solve(p, options=OPTIONS))["a"][0] == "t2"


def test_a_booked_visit_is_kept_rather_than_a_new_routine_request_taken():
    """Room for one: the booked routine visit stays, the new routine and soon requests are left out."""
    window = ((600, 605),)
    a = booked("a", 10, 600, windows=window)
    new = [visit("n1", 10, windows=window), visit("n2", 10, windows=window, priority=Priority.SOON)]
    p = problem([therapist(shift=(580, 700))], [a, *new])
    solution = solve(p, options=OPTIONS, initial_routes={"t1": ["a"]})
    assert set(starts(solution)) == {"a"}


def test_urgent_work_may_displace_a_booked_routine_visit():
    """Room for one: the new urgent request takes the slot and the booked routine visit is left out."""
    window = ((600, 605),)
    a = booked("a", 10, 600, windows=window)
    urgent = visit("u", 10, windows=window, priority=Priority.URGENT)
    solution = solve(problem([therapist(shift=(580, 700))], [a, urgent]), options=OPTIONS, initial_routes={"t1": ["a"]})
    assert set(starts(solution)) == {"u"}
    assert [u.visit_id for u in solution.unassigned] == ["a"]


def test_options_refuse_negative_replan_weights():
    with pytest.raises(ValueError, match="reassign_cost"):
        Options(reassign_cost=-1)


def test_a_current_start_needs_a_current_therapist():
    with pytest.raises(ValueError, match="current_start_min"):
        visit("a", current_start_min=600)


# The current plan as first solution


def test_the_current_plan_is_the_first_solution_and_is_never_worsened(two_rounds):
    """A re-plan descending from the current plan costs no more than keeping it as it is."""
    mine, theirs = two_rounds
    p = day_of(mine + theirs, t1_free=560)
    current = routes_of(mine + theirs)
    as_it_is = solve(p, options=dataclasses.replace(OPTIONS, solution_limit=1), initial_routes=current)
    searched = solve(p, options=OPTIONS, initial_routes=current)
    assert set(starts(as_it_is)) == {v.id for v in mine + theirs}
    assert searched.objective <= as_it_is.objective
    assert check_solution(p, searched) == []


def test_a_current_plan_a_lunch_pushes_beyond_the_tolerance_is_searched_from_and_ends_by_itself():
    """t1 is free at 12:25 with lunch still owed by 13:30: kept as booked, b starts 30 minutes late after
    the lunch. That plan is the first solution as it is (not a schedule OR-Tools goes on looking for
    until its wall cap, the demo's "sick at 12:00"), and the search ends by itself, not by the clock."""
    visits = [
        booked("a", 0, 745, windows=((720, 930),), buffer_min=10),
        booked("b", 0, 785, windows=((720, 915),), duration=45, buffer_min=10),
        booked("c", 19, 865, windows=((810, 930),), duration=60, buffer_min=10),
    ]
    colleague = dataclasses.replace(therapist("t2", shift=(729, 1140)), start=at(25), end=at(25))
    p = problem([therapist("t1", shift=(745, 1080), breaks=(lunch(745, 810, 30),)), colleague], visits)
    current = {"t1": ["a", "b", "c"]}
    as_it_is = solve(p, options=dataclasses.replace(OPTIONS, solution_limit=1), initial_routes=current)
    searched = solve(p, options=OPTIONS, initial_routes=current)
    assert starts(as_it_is) == {"a": ("t1", 745), "b": ("t1", 815), "c": ("t1", 889)}
    assert searched.stopped_by in ("completed", "solution_limit", "optimal")
    assert searched.objective <= as_it_is.objective and set(starts(searched)) == {"a", "b", "c"}
    assert check_solution(p, searched) == []


def test_unknown_ids_in_the_current_plan_are_ignored(two_rounds):
    mine, _ = two_rounds
    solution = solve(day_of(mine), options=OPTIONS, initial_routes={"t1": ["gone", "a0"], "nobody": ["a1"]})
    assert set(starts(solution)) == {v.id for v in mine}


def test_booked_times_are_kept_when_nothing_changed(two_rounds):
    """Re-planning an undisturbed day returns every visit at its booked therapist and minute."""
    mine, theirs = two_rounds
    solution = solve(day_of(mine + theirs), options=OPTIONS, initial_routes=routes_of(mine + theirs))
    assert starts(solution) == {v.id: (v.current_therapist, v.current_start_min) for v in mine + theirs}


# What still fits, and why the rest does not


def test_kept_plan_names_a_window_that_would_break(two_rounds):
    mine, _ = two_rounds
    last = dataclasses.replace(mine[3], windows=(visit("x", windows=((700, 740),)).windows[0],))
    kept = keep_current_plan(day_of([*mine[:3], last], t1_free=700), {"t1": [v.id for v in mine]})
    assert kept.broken["a3"].rule == WINDOW and kept.broken["a3"].at_min == 740
    assert kept.routes["t1"] == ("a0", "a1", "a2")


def test_kept_plan_names_the_shift_and_an_absent_therapist(two_rounds):
    mine, theirs = two_rounds
    p = problem([therapist("t1", shift=(480, 700))], mine)
    kept = keep_current_plan(p, {"t1": [v.id for v in mine], "t2": [v.id for v in theirs]})
    assert {vid: b.rule for vid, b in kept.broken.items()} == {"a2": SHIFT, "a3": SHIFT}
    kept = keep_current_plan(day_of(mine + theirs), {"gone": ["a0"]})
    assert kept.broken["a0"].rule == ABSENT


def test_kept_plan_waits_for_booked_times_and_moves_only_what_the_delay_reaches(two_rounds):
    mine, _ = two_rounds
    kept = keep_current_plan(day_of(mine, t1_free=600), {"t1": [v.id for v in mine]})
    assert kept.starts == {"a0": 610, "a1": 645, "a2": 680, "a3": 720}
    assert kept.moved({v.id: v for v in mine}) == {"a0", "a1", "a2"}


# Local first


def test_a_delay_is_absorbed_on_the_late_therapists_own_route(two_rounds):
    mine, theirs = two_rounds
    p = day_of(mine + theirs, t1_free=600)
    result = replan(p, current_routes=routes_of(mine + theirs), concerned=["t1"], options=OPTIONS)
    after = starts(result.solution)
    assert result.scope == "local" and result.local_therapists == ("t1",)
    assert all(after[v.id] == ("t2", v.current_start_min) for v in theirs)
    assert [after[f"a{i}"] for i in range(4)] == [("t1", 610), ("t1", 645), ("t1", 680), ("t1", 720)]
    assert check_solution(p, result.solution) == []


def test_only_the_visit_the_late_route_cannot_keep_goes_to_a_colleague(two_rounds):
    """t1 is free only at 11:40; a3's window closes at 12:20: a3 stays, a0 goes to t2, the rest stay with t1."""
    mine, theirs = two_rounds
    mine[3] = dataclasses.replace(mine[3], windows=visit("x", windows=((700, 740),)).windows)
    p = day_of(mine + theirs, t1_free=700)
    result = replan(p, current_routes=routes_of(mine + theirs), concerned=["t1"], options=OPTIONS)
    after = starts(result.solution)
    assert result.scope == "nearby" and result.rehomed == ("a0",)
    assert after["a0"][0] == "t2"
    assert {after[v][0] for v in ("a1", "a2", "a3")} == {"t1"}
    assert check_solution(p, result.solution) == []


def test_a_new_urgent_request_finds_a_home_without_unbooking_anyone(two_rounds):
    mine, theirs = two_rounds
    urgent = visit("u", 42, windows=((600, 700),), priority=Priority.URGENT)
    p = day_of([*mine, *theirs, urgent])
    result = replan(p, current_routes=routes_of(mine + theirs), placing=["u"], options=OPTIONS)
    after = starts(result.solution)
    assert "u" in after
    assert {v.id for v in mine + theirs} <= set(after)


def test_a_pinned_visit_whose_time_cannot_be_kept_is_a_conflict_and_is_still_served(two_rounds):
    mine, _ = two_rounds
    mine[1] = dataclasses.replace(mine[1], pinned_therapist="t1", pinned_start_min=600)
    p = day_of(mine, t1_free=640)
    result = replan(p, current_routes=routes_of(mine), concerned=["t1"], options=OPTIONS)
    assert result.conflicts == {"a1": PINNED}
    assert starts(result.solution)["a1"][0] == "t1"


def test_a_replan_without_a_concerned_therapist_opens_the_whole_day(two_rounds):
    mine, theirs = two_rounds
    result = replan(day_of(mine + theirs), current_routes=routes_of(mine + theirs), options=OPTIONS)
    assert result.scope == "all"
    assert starts(result.solution) == {v.id: (v.current_therapist, v.current_start_min) for v in mine + theirs}


def test_a_therapist_at_a_facility_needs_no_second_check_in_there():
    """Started at the hospital where the next visit is: no travel, no check-in overhead before it."""
    here = visit("h", 10, windows=((600, 605),), site_id="hospital", overhead_min=10)
    t = dataclasses.replace(therapist(shift=(600, 1020)), start=here.location, start_site_id="hospital")
    solution = solve(problem([t], [here]), options=OPTIONS)
    assert starts(solution)["h"][1] <= 605  # a check-in would have made 610 the earliest
    assert check_solution(problem([t], [here]), solution) == []


def _slow_clock(monkeypatch, seconds_per_read: float) -> None:
    """The re-plan's clock as a loaded machine sees it: every read finds ``seconds_per_read`` more gone."""
    real, lag = REPLAN.clock.monotonic, [0.0]

    def slow() -> float:
        lag[0] += seconds_per_read
        return real() + lag[0]

    monkeypatch.setattr(REPLAN.clock, "monotonic", slow)


def _spied_steps(monkeypatch) -> list[Options]:
    steps: list[Options] = []

    def spy(problem, *, options, **kw):
        steps.append(options)
        return solve(problem, options=options, **kw)

    monkeypatch.setattr(REPLAN, "solve", spy)
    return steps


def test_a_loaded_machine_gives_the_same_replan_steps_and_plan_in_deterministic_mode(two_rounds, monkeypatch):
    """Each step's budget is a share fixed in advance, not what the clock left: with a clock that runs
    slow (each read 0.3 s later, as if each step had taken long) the steps get the same limits, none is
    stopped by the clock and the plan is the same."""
    mine, theirs = two_rounds
    mine[3] = dataclasses.replace(mine[3], windows=visit("x", windows=((700, 740),)).windows)
    p = day_of(mine + theirs, t1_free=700)
    options = dataclasses.replace(OPTIONS, wall_cap_s=60)
    steps = _spied_steps(monkeypatch)
    idle = replan(p, current_routes=routes_of(mine + theirs), concerned=["t1"], options=options)
    idle_limits = [s.time_limit_s for s in steps]
    steps.clear()
    _slow_clock(monkeypatch, 0.3)
    loaded = replan(p, current_routes=routes_of(mine + theirs), concerned=["t1"], options=options)
    assert len(idle_limits) >= 2 and [s.time_limit_s for s in steps] == idle_limits
    assert idle_limits == [max(1.0 / 2**k, 0.5) for k in range(len(idle_limits))]
    assert loaded.solution.stopped_by == idle.solution.stopped_by
    assert idle.solution.stopped_by in ("solution_limit", "completed", "optimal")  # never the clock
    assert starts(loaded.solution) == starts(idle.solution)


def test_a_replan_step_the_wall_cap_cut_makes_the_replan_say_time_limit(two_rounds, monkeypatch):
    """When the cap ends a step on the clock, the whole re-plan says so, even if a later step ended on
    its budget."""
    mine, theirs = two_rounds
    mine[3] = dataclasses.replace(mine[3], windows=visit("x", windows=((700, 740),)).windows)
    p = day_of(mine + theirs, t1_free=700)
    calls = []

    def first_cut(problem, *, options, **kw):
        calls.append(options)
        solution = solve(problem, options=options, **kw)
        return dataclasses.replace(solution, stopped_by="time_limit") if len(calls) == 1 else solution

    monkeypatch.setattr(REPLAN, "solve", first_cut)
    result = replan(p, current_routes=routes_of(mine + theirs), concerned=["t1"], options=OPTIONS)
    assert len(calls) >= 2 and result.solution.stopped_by == "time_limit"
