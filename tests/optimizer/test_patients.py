"""One patient is in one session at a time, whoever serves them: the model, the checker, re-plans, regions."""

from __future__ import annotations

from dataclasses import replace

from optimizer import Options, check_solution, replan, solve
from optimizer import decompose
from optimizer.benchmarks.therapist_day import generate_day
from tests.optimizer.builders import earliest_route, problem, therapist, visit

OPTIONS = Options(time_limit_s=2.0, solution_limit=200)


def sessions(solution) -> dict[str, tuple[str, int, int]]:
    return {s.visit_id: (r.therapist_id, s.start_min, s.end_min) for r in solution.routes for s in r.stops}


def apart(a: tuple[str, int, int], b: tuple[str, int, int]) -> bool:
    return a[2] <= b[1] or b[2] <= a[1]


def test_two_sessions_of_one_patient_at_ten_sharp_are_not_both_planned_at_ten():
    """The tester's day: two 60-minute visits of one patient, each to fit 10:00-11:00, two therapists free.
    One is served at 10:00, the other is left out and says the patient is busy then."""
    p = problem(
        [therapist("t1"), therapist("t2")],
        [
            visit("a", 10, windows=((600, 600),), duration=60, patient_id="p1"),
            visit("b", 12, windows=((600, 600),), duration=60, patient_id="p1"),
        ],
    )
    solution = solve(p, options=OPTIONS)
    assert check_solution(p, solution) == []
    served = sessions(solution)
    assert len(served) == 1 and next(iter(served.values()))[1] == 600
    [left] = solution.unassigned
    assert "patient is in visit" in left.reason and left.start_min is None


def test_one_patients_visits_with_room_in_their_windows_are_served_one_after_the_other():
    """Windows 10:00-12:00: both visits are served, the second once the first session is over."""
    p = problem(
        [therapist("t1"), therapist("t2")],
        [
            visit("a", 10, windows=((600, 720),), duration=60, patient_id="p1"),
            visit("b", 10, windows=((600, 720),), duration=60, patient_id="p1"),
        ],
    )
    solution = solve(p, options=OPTIONS)
    assert check_solution(p, solution) == []
    served = sessions(solution)
    assert set(served) == {"a", "b"} and apart(served["a"], served["b"])


def test_two_patients_at_ten_sharp_are_both_served_by_two_therapists():
    """The rule is per patient: different patients at the same time go to different therapists."""
    p = problem(
        [therapist("t1"), therapist("t2")],
        [
            visit("a", 10, windows=((600, 600),), duration=60, patient_id="p1"),
            visit("b", 12, windows=((600, 600),), duration=60, patient_id="p2"),
        ],
    )
    solution = solve(p, options=OPTIONS)
    assert set(sessions(solution)) == {"a", "b"}


def test_a_pinned_session_of_the_patient_keeps_a_request_for_the_same_patient_out_of_its_time():
    """Visit a is pinned with t1 at 10:00; the patient's request b (start 10:00-11:00) waits until 11:00."""
    p = problem(
        [therapist("t1"), therapist("t2")],
        [
            visit("a", 10, windows=((600, 600),), duration=60, patient_id="p1", pinned_therapist="t1",
                  pinned_start_min=600),
            visit("b", 12, windows=((600, 660),), duration=60, patient_id="p1"),
        ],
    )
    solution = solve(p, options=OPTIONS)
    assert check_solution(p, solution) == []
    served = sessions(solution)
    assert served["a"][1] == 600 and served["b"][1] >= 660


def test_a_replan_places_a_request_around_the_patients_session_booked_with_a_therapist_it_does_not_touch():
    """t2 has the patient at 10:00-11:00 booked; a new request of the same patient to start by 10:30,
    placed by a re-plan concerning t1 only, does not go into t1's free morning: it stays out."""
    p = problem(
        [therapist("t1"), therapist("t2")],
        [
            visit("a", 10, windows=((600, 600),), duration=60, patient_id="p1", current_therapist="t2",
                  current_start_min=600),
            visit("u", 12, windows=((600, 630),), duration=60, patient_id="p1"),
        ],
    )
    result = replan(p, current_routes={"t2": ["a"]}, concerned=["t1"], placing=["u"], options=OPTIONS)
    assert check_solution(p, result.solution) == []
    served = sessions(result.solution)
    assert served["a"] == ("t2", 600, 660) and "u" not in served
    [left] = result.solution.unassigned
    assert left.visit_id == "u" and "patient is in visit a" in left.reason


def test_the_checker_flags_one_patients_sessions_that_overlap_on_two_routes():
    """A hand-made plan with the patient at 10:00 on t1 and at 10:30 on t2 is flagged, naming the later one."""
    t1, t2 = therapist("t1"), therapist("t2")
    a = visit("a", 10, windows=((600, 600),), duration=60, patient_id="p1")
    b = visit("b", 12, windows=((630, 630),), duration=60, patient_id="p1")
    p = problem([t1, t2], [a, b])
    plan = solve(p, options=OPTIONS)  # any plan, then the hand-made routes in its place
    routes = (earliest_route(p, t1, [a]), earliest_route(p, t2, [b]))
    flagged = check_solution(p, replace(plan, routes=routes, unassigned=()))
    assert [(v.kind, v.visit_id) for v in flagged] == [("patient_overlap", "b")]
    other = problem([t1, t2], [a, replace(b, patient_id="p2")])
    assert check_solution(other, replace(plan, routes=routes, unassigned=())) == []


def test_regions_keep_one_patients_visits_together():
    """Two visits of one patient far apart on a large day land in one region."""
    day = generate_day(4, therapists=16, visits=120)
    first, last = day.visits[0], max(day.visits, key=lambda v: abs(v.location.lon - day.visits[0].location.lon))
    visits = [replace(v, patient_id="p1") if v.id in (first.id, last.id) else v for v in day.visits]
    parts = decompose.regions(visits, 30)
    assert len(parts) > 1
    assert sum(1 for part in parts if any(v.patient_id == "p1" for v in part)) == 1


def test_a_day_where_every_patient_has_one_visit_plans_as_without_patients():
    """The rule adds nothing to the model when no patient has two visits: the same plan, seed for seed."""
    day = generate_day(1, therapists=4, visits=25)
    named = replace(day, visits=tuple(replace(v, patient_id=f"p{v.id}") for v in day.visits))
    options = Options(time_limit_s=30, solution_limit=100, seed=0)
    assert sessions(solve(day, options=options)) == sessions(solve(named, options=options))


def test_a_problem_file_names_the_patient_of_a_visit():
    """patient_id reads from the JSON problem (absent: no patient, as before)."""
    from optimizer.io import problem_from_dict

    raw = {
        "therapists": [{"id": "t1", "start": {"lat": 0, "lon": 0}, "end": {"lat": 0, "lon": 0},
                        "shift_start_min": 480, "shift_end_min": 1020}],
        "visits": [
            {"id": "a", "location": {"lat": 0, "lon": 0.1}, "duration_min": 30, "windows": [{"start_min": 600,
             "end_min": 700}], "patient_id": "p1"},
            {"id": "b", "location": {"lat": 0, "lon": 0.1}, "duration_min": 30, "windows": [{"start_min": 600,
             "end_min": 700}]},
        ],
    }
    assert [v.patient_id for v in problem_from_dict(raw).visits] == ["p1", None]
