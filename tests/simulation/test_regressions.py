"""Each bug the simulation found, kept as its seed: the run that found it, cut just after the step it broke.

The prefix of a run is the same until the behaviour it exercises changes, so the same seed reaches the same
step; the test asserts the invariant that broke there holds now.
"""
from __future__ import annotations

import pytest

from dispatch.simulation import simulate

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.simulation]

REGRESSIONS = [
    # seed, days, agencies, stop after step, the invariant that failed there, scale. Where a later change
    # of the harness or the product moves the run off the path that found the bug, the seed still checks the
    # invariant on its run; the route-level test named beside it guards the bug itself.
    # tests/plans/test_plans_api.py::test_an_appointment_whose_window_is_exactly_the_session_is_booked_exactly_then
    pytest.param(4, 2, 2, 205, "booked_inside_windows", "small", id="seed4-exact-window-booked-a-minute-late"),
    # tests/day/test_visit_actions_api.py::test_an_interruption_pushes_the_next_visit_far_enough_to_travel_there
    pytest.param(5, 2, 2, 90, "travel_between_visits", "small", id="seed5-push-left-no-time-to-travel"),
    # tests/day/test_replan.py::test_a_check_out_part_way_through_a_minute_frees_the_therapist_at_the_next_whole_minute
    pytest.param(7, 3, 2, 405, "travel_between_visits", "full", id="seed7-replan-after-check-out-seconds-short"),
    # tests/day/test_replan.py::test_a_replan_after_a_session_ran_over_leaves_the_whole_journey_to_the_next_visit
    pytest.param(2, 28, 2, 120, "travel_between_visits", "small", id="seed2-replan-seconds-short-of-the-journey"),
]


@pytest.mark.parametrize(("seed", "days", "agencies", "until_step", "invariant", "scale"), REGRESSIONS)
def test_the_seed_that_found_a_bug_finds_it_no_more(seed, days, agencies, until_step, invariant, scale):
    outcome = simulate(seed=seed, days=days, agencies=agencies, scale=scale, until_step=until_step)
    assert outcome.recorder.step >= until_step, "the run ended before the step that found the bug"
    broken = [f for f in outcome.failures if f.invariant == invariant]
    assert not broken, "\n".join(f.text("python manage.py simulate") for f in broken)
