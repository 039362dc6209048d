"""Both cores for one plan: the same day searched in several processes, the better plan kept.

OR-Tools' routing search is single-threaded. ``solve_in_processes`` runs ``solve`` once per search
of ``searches``: the first in this process (so a progress callback reports from here), the others
each in a process of its own (``fork``, so the problem is not re-sent). The searches differ in how
they perturb (the second ruins smaller strings of visits, ``SECOND_SEARCH``: measured the best
partner of the default on the generated days, see the results file; a caller may pass its own, as the
Solomon bench does, ``SEED_SHIFT``) and then in their seed; they
share the model and its weights, so their plans compare: ``plan_rank``, urgent visits left out
first, then "soon", then routine, then the objective; ties go to the earlier search, so the answer
does not depend on which process finished first. In deterministic mode every search stops on its
own solution budget, so the kept plan is as reproducible as the least reproducible search
(``stopped_by`` says which).

A daemonic process (a Celery prefork pool process, as ``make worker`` runs) may not start
children: there the first search runs alone, as in one process; so it does inside a process of
ours (a region of a large day), whose sibling has the other core.
"""

from __future__ import annotations

import itertools
import multiprocessing
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from typing import TYPE_CHECKING

from optimizer.options import Options
from optimizer.problem import Priority
from optimizer.solution import STOPS_BY_REPRODUCIBILITY
from optimizer.solve import solve

if TYPE_CHECKING:
    from optimizer.problem import Problem
    from optimizer.solution import Solution

# The second search's ruin: about 3 visits, at most 2 in a row (the default: 5 and 3). Of 8/5, 10/5, 12/8,
# 15/10 and 3/2 as the partner of the default on the generated days (seeds 0-2), 3/2 won on two seeds.
SECOND_SEARCH = {"ruin_avg_removed": 3, "ruin_max_sequence": 2}
# Solomon (every customer served, distance only) loses with that partner; its own ruin with the next seed won on the
# 12 instances of ``make bench`` at 10 s in two runs (mean ratio to PyVRP 1.0073 / 1.0071 against 1.0105 / 1.0096).
SEED_SHIFT = {"seed_shift": 1}

# The problems a forked worker reads from its copy of this process (not pickled across), under a key of their own
# call: two plans in two threads of one process (the embedded mode's in-process runs) must not read each other's.
_shared: dict[int, list[Problem]] = {}
_calls = itertools.count()


def _solve_shared(job: tuple[int, int, Options, float | None, bool]) -> Solution:
    call, k, *rest = job
    return _solve_by(_shared[call][k], *rest)


def _solve_by(problem: Problem, options: Options, deadline: float | None, decompose: bool = True) -> Solution:
    """``solve``, its safety cap (deterministic mode) running to ``deadline`` (``time.monotonic``,
    one clock for every process) from whenever the job starts, when one is given."""
    if deadline is not None and options.deterministic:
        options = replace(options, wall_cap_s=max(deadline - time.monotonic(), 0.1))
    return solve(problem, options=options, decompose=decompose)


def searches(options: Options, count: int, partner: dict | None = None) -> list[Options]:
    """The ``count`` searches of a portfolio: ``options`` itself, then ``partner`` (``SECOND_SEARCH``
    when omitted: fields of ``Options`` to replace, and ``seed_shift``, added to the seed), then that
    with the seeds after its seed. Each runs in one process (``processes=1``)."""
    partner = dict(SECOND_SEARCH if partner is None else partner)
    shift = partner.pop("seed_shift", 0)
    alone = replace(options, processes=1)
    second = replace(alone, **partner)
    return [alone, *(replace(second, seed=options.seed + shift + k) for k in range(count - 1))][:count]


def plan_rank(problem: Problem, solution: Solution) -> tuple:
    """Lower is better: a plan at all, then urgent, "soon" and routine visits left out, then the objective."""
    priority = {v.id: v.priority for v in problem.visits}
    left = [priority[u.visit_id] for u in solution.unassigned]
    by_priority = tuple(left.count(p) for p in (Priority.URGENT, Priority.SOON, Priority.ROUTINE))
    return (not solution.is_feasible(), *by_priority, solution.objective)


def solve_in_processes(
    problem: Problem,
    *,
    options: Options | None = None,
    processes: int = 2,
    progress: Callable[[float, int, int, float], None] | None = None,
    partner: dict | None = None,
) -> Solution:
    """The best of ``processes`` searches of ``problem`` (``searches``), ranked by ``plan_rank``.

    Parameters
    ----------
    problem
        Therapists, visits and the travel provider.
    options
        Search settings and weights of the first search (the others vary its ruin and seed);
        ``Options()`` when omitted.
    processes
        How many searches run side by side (one per core is the point).
    progress
        ``solve``'s progress callback, called by the first search (the one in this process).
    partner
        How the second search differs from the first (``searches``); ``SECOND_SEARCH`` when omitted.

    Returns
    -------
    Solution
        The best plan; its ``solve_time_s`` is that search's own, its ``stopped_by`` the least
        reproducible search's (a plan kept over one the clock cut might have lost to it).
    """
    options = options or Options()
    if processes < 1:
        raise ValueError(f"processes: {processes} is below 1.")
    runs = searches(options, processes, partner)
    if processes == 1 or multiprocessing.current_process().daemon or multiprocessing.parent_process() is not None:
        # A daemonic process may not start children ("daemonic processes are not allowed to have children"); inside
        # a worker of ours (a region's, a portfolio's) the other core is taken.
        return solve(problem, options=runs[0], progress=progress)
    call = next(_calls)
    _shared[call] = [problem]
    try:
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(max_workers=processes - 1, mp_context=context) as pool:
            others = [pool.submit(_solve_shared, (call, 0, run, None, True)) for run in runs[1:]]
            solutions = [solve(problem, options=runs[0], progress=progress), *(f.result() for f in others)]
    finally:
        del _shared[call]
    best = min(solutions, key=lambda s: plan_rank(problem, s))  # the first of equals: the earlier search
    stops = [s.stopped_by for s in solutions if s.stopped_by is not None]
    if stops and best.stopped_by is not None:
        best = replace(best, stopped_by=min([best.stopped_by, *stops], key=STOPS_BY_REPRODUCIBILITY.index))
    return best


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
    call = next(_calls)
    _shared[call] = [problem for problem, _ in jobs]
    try:
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(max_workers=min(processes, len(jobs)), mp_context=context) as pool:
            work = [
                (call, k, options, d, decompose)
                for k, ((_, options), d) in enumerate(zip(jobs, deadlines, strict=True))
            ]
            return list(pool.map(_solve_shared, work))
    finally:
        del _shared[call]
