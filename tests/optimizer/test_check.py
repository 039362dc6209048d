"""The checker flags each kind of broken plan; a hand-made valid plan passes."""

from __future__ import annotations

from dataclasses import replace

import pytest

from optimizer import Kpis, Solution, Unassigned, check_solution
from optimizer.solution import PlacedBreak
from tests.optimizer.builders import earliest_route, lunch, problem, therapist, visit

P = problem(
    [therapist("t1", breaks=(lunch(),), skills=frozenset({"lymph"}), max_visits=4), therapist("t2", capacity=4)],
    [
        visit("a", 10, windows=((480, 600),), demand=2),
        visit("b", 20, windows=((600, 700),), required_skills=frozenset({"lymph"})),
        visit("c", 30, windows=((800, 900),), pinned_therapist="t1", pinned_start_min=800),
        visit("d", 40, demand=3, forbidden_therapists=frozenset({"t2"}), allowed_therapists=frozenset({"t1"})),
    ],
)
KPIS = Kpis(0, 0, 0, 0, None, 0, 0)


def plan(routes, unassigned=()) -> Solution:
    return Solution(tuple(routes), tuple(unassigned), KPIS, "feasible", 0, 0.0)


def valid() -> Solution:
    t1, t2 = P.therapists
    a, b, c, d = P.visits
    return plan([earliest_route(P, t1, [a, b, c, d])])


def kinds(solution: Solution) -> set[str]:
    return {v.kind for v in check_solution(P, solution)}


def first_route(solution: Solution, **changes):
    return plan([replace(solution.routes[0], **changes)])


def test_valid_plan_has_no_violation():
    """The earliest schedule of a, b, c, d by t1 breaks no rule."""
    assert check_solution(P, valid()) == []


def test_visit_neither_served_nor_unassigned_is_missing():
    """Dropping d from the route without listing it is flagged."""
    route = valid().routes[0]
    assert kinds(first_route(valid(), stops=route.stops[:3])) == {"missing"}


def test_visit_served_and_unassigned_is_served_twice():
    """Listing a served visit as unassigned too is flagged."""
    solution = replace(valid(), unassigned=(Unassigned("a", "displaced", "x"),))
    assert kinds(solution) == {"served_twice"}


def test_visit_served_twice_is_flagged():
    """The same stop twice on one route is flagged."""
    route = valid().routes[0]
    assert "served_twice" in kinds(first_route(valid(), stops=route.stops + route.stops[-1:]))


@pytest.mark.parametrize(
    ("changes", "kind"),
    [
        ({"start_min": 400}, "shift_start"),
        ({"end_min": 1100}, "shift_end"),
        ({"breaks": ()}, "break_missing"),
        ({"breaks": (PlacedBreak(900, 930),)}, "break_window"),
        ({"therapist_id": "t2"}, "skill"),
    ],
)
def test_route_level_faults_are_flagged(changes, kind):
    """Each altered route field yields its violation kind."""
    assert kind in kinds(first_route(valid(), **changes))


def shifted(stop, by: int):
    return replace(
        stop, start_min=stop.start_min + by, end_min=stop.end_min + by, buffer_end_min=stop.buffer_end_min + by
    )


def test_start_outside_window_is_flagged():
    """Moving a to 650 (window 480-600) is a window violation."""
    route = valid().routes[0]
    stops = (shifted(route.stops[0], 650 - route.stops[0].start_min), *route.stops[1:])
    assert "window" in kinds(first_route(valid(), stops=stops))


def test_start_before_travel_allows_is_flagged():
    """Starting b right when a ends ignores the 10 minutes between them."""
    route = valid().routes[0]
    a, b = route.stops[:2]
    early = replace(
        b, arrival_min=a.end_min, start_min=a.end_min, end_min=a.end_min + 30, buffer_end_min=a.end_min + 30
    )
    assert "travel" in kinds(first_route(valid(), stops=(a, early, *route.stops[2:])))


def test_wrong_duration_is_flagged():
    """A 20-minute stop for a 30-minute visit is flagged."""
    route = valid().routes[0]
    short = replace(route.stops[0], end_min=route.stops[0].start_min + 20, buffer_end_min=route.stops[0].start_min + 20)
    assert "duration" in kinds(first_route(valid(), stops=(short, *route.stops[1:])))


def test_break_during_a_visit_is_flagged():
    """A break placed over c's service overlaps it."""
    route = valid().routes[0]
    c = route.stops[2]
    assert "break_overlap" in kinds(first_route(valid(), breaks=(PlacedBreak(c.start_min, c.start_min + 30),)))


def test_overlapping_stops_are_flagged():
    """Two stops at the same time overlap."""
    route = valid().routes[0]
    a = route.stops[0]
    b = replace(
        route.stops[1], arrival_min=a.start_min, start_min=a.start_min, end_min=a.end_min, buffer_end_min=a.end_min
    )
    assert "overlap" in kinds(first_route(valid(), stops=(a, b, *route.stops[2:])))


def test_pinned_visit_moved_is_flagged():
    """c is pinned at 800; serving it 10 minutes later is flagged."""
    route = valid().routes[0]
    stops = (*route.stops[:2], shifted(route.stops[2], 10), route.stops[3])
    assert "pinned" in kinds(first_route(valid(), stops=stops))


def test_forbidden_allowed_max_visits_capacity_and_working_time_are_flagged():
    """All of t1's stops given to t2 (capacity 4, d forbidden) and to a capped t1."""
    t2_route = replace(valid().routes[0], therapist_id="t2", breaks=())
    assert {"forbidden", "allowed", "pinned", "capacity", "skill"} <= kinds(plan([t2_route]))
    capped = problem([therapist("t1", max_visits=1, max_working_min=30)], [visit("a"), visit("b")])
    route = earliest_route(capped, capped.therapists[0], list(capped.visits))
    assert {"max_visits", "max_working"} <= {v.kind for v in check_solution(capped, plan([route]))}
