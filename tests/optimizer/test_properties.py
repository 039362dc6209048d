"""Property tests on small random days: valid plans, every visit accounted for, nothing easy left out."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from optimizer import Options, Priority, check_solution, solve
from optimizer.check import check_route
from tests.optimizer.builders import earliest_route, lunch, problem, therapist, visit

SKILLS = st.frozensets(st.sampled_from(["lymph", "onco"]), max_size=1)


@st.composite
def days(draw):
    therapists = [
        therapist(
            f"t{i}",
            shift=(draw(st.integers(420, 600)), draw(st.integers(800, 1100))),
            skills=draw(st.frozensets(st.sampled_from(["lymph", "onco"]))),
            breaks=(lunch(),) if draw(st.booleans()) else (),
            max_visits=draw(st.none() | st.integers(1, 4)),
        )
        for i in range(draw(st.integers(1, 3)))
    ]
    visits = []
    for i in range(draw(st.integers(1, 7))):
        start = draw(st.integers(420, 1000))
        visits.append(
            visit(
                f"v{i}",
                draw(st.integers(0, 60)),
                windows=((start, start + draw(st.integers(10, 300))),),
                duration=draw(st.sampled_from([15, 30, 45, 60, 90])),
                buffer_min=draw(st.sampled_from([0, 10])),
                required_skills=draw(SKILLS),
                priority=draw(st.sampled_from(list(Priority))),
                site_id=draw(st.sampled_from([None, None, "care-home"])),
            )
        )
    return problem(therapists, visits)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(days())
def test_random_days_give_valid_complete_plans(p):
    """No violation, no visit twice, every unassigned visit has a reason, and none would fit alone."""
    solution = solve(p, options=Options(time_limit_s=0.3))
    assert check_solution(p, solution) == []
    served = [s.visit_id for r in solution.routes for s in r.stops]
    assert len(served) == len(set(served))
    assert all(u.reason and u.code for u in solution.unassigned)
    routes = {r.therapist_id: r for r in solution.routes}
    visits = {v.id: v for v in p.visits}
    for u in solution.unassigned:
        for t in p.therapists:
            current = [visits[s.visit_id] for s in routes[t.id].stops] if t.id in routes else []
            for k in range(len(current) + 1):
                candidate = current[:k] + [visits[u.visit_id]] + current[k:]
                route = earliest_route(p, t, candidate)
                assert check_route(p, t, route, candidate), f"{u.visit_id} fits into {t.id} at {k} but was left out"
