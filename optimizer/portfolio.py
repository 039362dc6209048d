"""Both cores for one plan: the same day searched in several processes with different seeds.

OR-Tools' routing search is single-threaded. ``solve_in_processes`` runs ``solve`` once per seed,
each in its own process (``fork``, so the problem is not re-sent), and keeps the plan with the
lowest objective (the seeds only permute the visits' order in one and the same model, so
objectives compare); ties go to the earlier seed, so the answer does not depend on which
process finished first.
"""

from __future__ import annotations

import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from typing import TYPE_CHECKING

from optimizer.options import Options
from optimizer.solve import solve

if TYPE_CHECKING:
    from optimizer.problem import Problem
    from optimizer.solution import Solution

_shared: dict[str, list[Problem]] = {}


def _solve_shared(job: tuple[int, Options, float | None, bool]) -> Solution:
    return _solve_by(_shared["problems"][job[0]], *job[1:])


def _solve_by(problem: Problem, options: Options, deadline: float | None, decompose: bool = True) -> Solution:
    """``solve``, its safety cap (deterministic mode) running to ``deadline`` (``time.monotonic``,
    one clock for every process) from whenever the job starts, when one is given."""
    if deadline is not None and options.deterministic:
        options = replace(options, wall_cap_s=max(deadline - time.monotonic(), 0.1))
    return solve(problem, options=options, decompose=decompose)


def solve_in_processes(problem: Problem, *, options: Options | None = None, processes: int = 2) -> Solution:
    """The best of ``processes`` searches of ``problem``, seeds ``options.seed``, ``options.seed + 1``, ...

    Parameters
    ----------
    problem
        Therapists, visits and the travel provider.
    options
        Search settings and weights for every search; ``Options()`` when omitted.
    processes
        How many searches run side by side (one per core is the point).

    Returns
    -------
    Solution
        The plan with the lowest objective; its ``solve_time_s`` is that search's own.
    """
    options = options or Options()
    if processes < 1:
        raise ValueError(f"processes: {processes} is below 1.")
    runs = [replace(options, seed=options.seed + k) for k in range(processes)]
    if processes == 1:
        return solve(problem, options=runs[0])
    solutions = solve_each([(problem, run) for run in runs], processes=processes)
    feasible = [s for s in solutions if s.is_feasible()] or solutions
    return min(feasible, key=lambda s: s.objective)


def solve_each(
    jobs: list[tuple[Problem, Options]],
    *,
    processes: int = 2,
    deadlines: list[float] | None = None,
    decompose: bool = True,
) -> list[Solution]:
    """``solve`` of every (problem, options) job, ``processes`` at a time, the solutions in the
    jobs' order (whichever process finished first). One process: one after the other, here.

    ``deadlines``: per job, the ``time.monotonic()`` at which its deterministic safety cap ends,
    however late the job starts (a job queued behind a slow one then has what is left, not a
    fixed share). ``decompose``: passed to ``solve`` (False for regions, which must not split again).
    """
    deadlines = deadlines or [None] * len(jobs)
    if multiprocessing.current_process().daemon:
        # A daemonic process may not start children ("daemonic processes are not allowed to have children"): a
        # Celery worker's prefork pool process is one. There the jobs run one after the other.
        processes = 1
    if processes <= 1 or len(jobs) <= 1:
        return [
            _solve_by(problem, options, d, decompose) for (problem, options), d in zip(jobs, deadlines, strict=True)
        ]
    _shared["problems"] = [problem for problem, _ in jobs]
    try:
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(max_workers=min(processes, len(jobs)), mp_context=context) as pool:
            work = [
                (k, options, d, decompose) for k, ((_, options), d) in enumerate(zip(jobs, deadlines, strict=True))
            ]
            return list(pool.map(_solve_shared, work))
    finally:
        _shared.clear()
