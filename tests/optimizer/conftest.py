"""Fixtures for the pure optimizer tests: no Django, no database."""

from __future__ import annotations

import pytest

from optimizer import Options, Problem
from tests.optimizer.builders import lunch, problem, therapist, visit

FAST = Options(time_limit_s=0.5)


@pytest.fixture(scope="session")
def fast() -> Options:
    return FAST


@pytest.fixture(scope="session")
def ok_small() -> Problem:
    """Two therapists, four visits on a line, one lunch break; everything fits."""
    return problem(
        [therapist("t1", breaks=(lunch(),)), therapist("t2")],
        [visit("a", 10), visit("b", 20), visit("c", 30, windows=((600, 700),)), visit("d", 40)],
    )
