"""Short simulated weeks in CI: generated agencies through the real API, every invariant after every step.

`make simulate DAYS=28` is the long run; this is its smallest form, kept short enough for every CI run
on SQLite and PostgreSQL. Any invariant failure fails the test with the seed, day, step and a replay
(the holes of issues 11 and 12 the harness once labelled as known are fixed, so none is excused).
"""
from __future__ import annotations

import pytest

from dispatch.simulation import simulate

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.simulation]

SEED = 1


def _explain(outcome) -> str:
    return "\n".join(outcome.lines)


def test_two_agencies_live_three_days_without_breaking_an_invariant():
    outcome = simulate(seed=SEED, days=3, agencies=2, scale="small")
    assert outcome.recorder.counters["plans run"] >= 3, _explain(outcome)
    assert outcome.recorder.requests_by_role["facility_staff"] > 0, _explain(outcome)
    # The day's reports (late, interruption, cancel, no-show) propose re-plans, and the coordinator reviews them.
    counters = outcome.recorder.counters
    assert sum(n for k, n in counters.items() if k.startswith("re-plans after ")) >= 1, _explain(outcome)
    assert counters["re-plans applied"] + counters["re-plans rejected"] >= 1, _explain(outcome)
    assert not outcome.failures, _explain(outcome)
