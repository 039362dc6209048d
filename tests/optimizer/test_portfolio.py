"""Two searches in two processes: the better plan of the two seeds is kept."""

from __future__ import annotations

from dataclasses import replace

import pytest

from optimizer import Options, check_solution, solve
from optimizer.benchmarks.therapist_day import generate_day
from optimizer.portfolio import solve_in_processes

BUDGET = Options(time_limit_s=30, solution_limit=30, seed=3)


def test_two_processes_keep_the_better_of_their_two_seeds():
    """The answer is the lower-objective plan of seeds 3 and 4, each as one process finds it."""
    p = generate_day(5, therapists=5, visits=40)
    both = solve_in_processes(p, options=BUDGET, processes=2)
    alone = [solve(p, options=replace(BUDGET, seed=s)) for s in (3, 4)]
    assert both.objective == min(s.objective for s in alone)
    assert check_solution(p, both) == []


def test_processes_below_one_are_refused():
    with pytest.raises(ValueError, match="processes: 0 is below 1"):
        solve_in_processes(generate_day(0, therapists=2, visits=5), processes=0)
