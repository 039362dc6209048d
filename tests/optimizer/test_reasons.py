"""Reasons for left-out visits, checked against the plan they come with."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from optimizer import Options, Problem, check_solution, solve
from optimizer.analysis import fits_alone, hhmm
from optimizer.benchmarks.therapist_day import generate_day
from tests.optimizer.builders import problem, therapist, visit

# Small generated days (overbooked like the benchmark day) and a fixed search budget, no clock.
DAYS = [generate_day(seed, therapists=6, visits=60) for seed in (1, 2, 3)]
BUDGET = Options(time_limit_s=30, solution_limit=60)
ALONE = Options(time_limit_s=30, solution_limit=20)


def _day_holds(p, t, kept, extra) -> bool:
    """Whether ``t``'s day alone holds ``kept`` in its order with ``extra`` somewhere in it.

    OR-Tools' own model accepts or refuses each order (``initial_routes``), and a short search
    follows; any plan serving every visit, checker clean, is proof.
    """
    alone = [replace(v, pinned_therapist=t.id, preferred_therapists=frozenset()) for v in [*kept, extra]]
    day = Problem((t,), tuple(alone), travel=p.travel, horizon_min=p.horizon_min)
    order = [v.id for v in kept]
    for k in range(len(order) + 1):
        solution = solve(day, options=ALONE, initial_routes={t.id: [*order[:k], extra.id, *order[k:]]})
        if not solution.unassigned and not check_solution(day, solution):
            return True
    return False


@pytest.fixture(scope="module", params=range(len(DAYS)), ids=lambda i: f"day{i + 1}")
def planned(request):
    p = DAYS[request.param]
    return p, solve(p, options=BUDGET)


def test_no_reason_names_a_therapist_who_was_merely_first(planned):
    """The old "it fits alone into <first therapist>'s day" is gone; every left-out visit has a reason."""
    p, solution = planned
    assert check_solution(p, solution) == []
    assert solution.unassigned
    assert not any("fits alone" in u.reason for u in solution.unassigned)


def test_a_reason_that_offers_a_place_is_true_of_the_plan(planned):
    """Named therapist may serve it and, with the named visits dropped, a valid route takes it then."""
    p, solution = planned
    visits = {v.id: v for v in p.visits}
    therapists = {t.id: t for t in p.therapists}
    offered = [u for u in solution.unassigned if u.therapist_id is not None]
    assert offered, "the overbooked days should leave visits out that a swap could place"
    for u in offered:
        t, v = therapists[u.therapist_id], visits[u.visit_id]
        assert v.eligible(t)
        assert f"Therapist {t.id} " in u.reason and hhmm(u.start_min) in u.reason
        assert all(f"visit {d} " in u.reason for d in u.drops)
        route = solution.route_of(t.id)
        kept = [visits[s.visit_id] for s in (route.stops if route else ()) if s.visit_id not in u.drops]
        assert _day_holds(p, t, kept, replace(v, pinned_start_min=u.start_min)), u.reason


def test_a_reason_that_says_therapists_are_full_is_true_of_the_plan(planned):
    """The therapist a "full" reason names has no place for the visit; "all"/"both" covers everyone able."""
    p, solution = planned
    visits = {v.id: v for v in p.visits}
    full = [u for u in solution.unassigned if u.code == "displaced" and u.therapist_id is None]
    for u in full:
        v = visits[u.visit_id]
        named = set(re.findall(r"Therapist (\w+)", u.reason))
        everyone = re.search(r"\b(all \d+|both|the one) therapists?\b", u.reason) or "both who" in u.reason
        able = [t for t in p.therapists if fits_alone(p, v, t)]
        for t in able if everyone else [t for t in able if t.id in named]:
            route = solution.route_of(t.id)
            current = [visits[s.visit_id] for s in (route.stops if route else ())]
            assert not _day_holds(p, t, current, v), (t.id, u.reason)


def test_a_visit_outside_every_shift_says_when_nobody_works():
    """The reason gives the hours in which no eligible therapist is working."""
    p = problem([therapist("t1", shift=(720, 1020))], [visit("a", windows=((540, 600),))])
    [u] = solve(p, options=BUDGET).unassigned
    assert u.code == "outside_shifts" and u.reason == "No eligible therapist is working between 09:00 and 10:00."


def test_a_skilled_visit_names_how_many_hold_the_skill_when_they_are_full():
    """Both oncology therapists have two fixed visits that one 60-minute visit at 08:00 would clash with."""
    onco = frozenset({"oncology"})
    fixed = [
        visit(f"{t}-{k}", 5, windows=((start, start),), pinned_therapist=t)
        for t in ("o1", "o2")
        for k, start in ((1, 480), (2, 520))
    ]
    p = problem(
        [therapist(t, shift=(470, 600), skills=onco) for t in ("o1", "o2")] + [therapist("t3", shift=(470, 600))],
        [*fixed, visit("x", 5, windows=((480, 490),), duration=60, required_skills=onco)],
    )
    [u] = solve(p, options=BUDGET).unassigned
    assert u.visit_id == "x" and u.therapist_id is None
    assert u.reason.startswith("Needs the oncology skill, held by 2 therapists; both who could reach it in time are full")
