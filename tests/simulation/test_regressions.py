"""Each bug the simulation found, kept as its seed: the run that found it, cut just after the step it broke.

The prefix of a run is the same until the behaviour it exercises changes, so the same seed reaches the same
step; the test asserts the invariant that broke there holds now.
"""
from __future__ import annotations

import pytest

from dispatch.simulation import simulate

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.simulation]

REGRESSIONS = [
    # seed, days, agencies, stop after step, the invariant that failed there
    pytest.param(1, 3, 2, 40, "booked_meets_patient_needs", id="seed1-reassign-ignored-patient-gender"),
]


@pytest.mark.parametrize(("seed", "days", "agencies", "until_step", "invariant"), REGRESSIONS)
def test_the_seed_that_found_a_bug_finds_it_no_more(seed, days, agencies, until_step, invariant):
    outcome = simulate(seed=seed, days=days, agencies=agencies, scale="small", until_step=until_step)
    assert outcome.recorder.step >= until_step, "the run ended before the step that found the bug"
    broken = [f for f in outcome.failures if f.invariant == invariant]
    assert not broken, "\n".join(f.text("python manage.py simulate") for f in broken)
