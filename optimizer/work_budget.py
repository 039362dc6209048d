"""A budget of search work that ends OR-Tools' iterated local search whatever the clock says.

Why hand-written: OR-Tools' ILS loop ends only on its time limit or on ``solution_limit``, which counts
the solutions its inner searches find. A day whose ruins find no better plan (the demo's Saturday: none
in about 1,000 ruin-and-recreate rounds after the first descent, RESULTS.md) never reaches the solution
budget, and the wall-clock cap ends it at a point that depends on the machine. No parameter counts the
loop's rounds; a limit that trips (``Solver.Limit``, ``improvement_limit_parameters``) only freezes the
inner search while the loop spins on to the cap, and ``CancelSearch``/``FinishCurrentSearch`` end only
the inner search too.

So the rounds are counted as the inner searches begin (``AddEnterSearchCallback``: once a round, cheap),
from the last one in which the best plan improved. When the count reaches the budget, a search monitor
is added whose ``EnterSearch`` raises :class:`BudgetSpent` at the next inner search: an exception is the
only way out of the loop that leaves the process sound (one raised in a limit or solution callback is
swallowed by OR-Tools). The monitor is added only then, because a Python monitor is called for every
neighbour (2.4 times the search's time), and a ``Solver.CustomLimit`` counting in Python, called about
once per neighbour, cost the 250-visit day 55 % more time (31.9 s for 20.5 s). The solver is left
mid-search, so the caller reads the best plan (kept here at each improvement) into a fresh model. The
count depends only on the model, the parameters and the OR-Tools build, never on the clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ortools.constraint_solver import pywrapcp


class BudgetSpent(Exception):
    """Raised out of the search when the work budget is spent."""


@dataclass(frozen=True)
class WorkBudget:
    rounds: int  # inner searches begun since the best plan last improved (a ruin-and-recreate round begins one or two)


@dataclass
class WorkSpent:
    searches: int = 0
    searches_at_best: int = 0
    reached: bool = False  # the budget ended the search (by raising through it at the next inner search)
    off: bool = False  # disarmed after the solve: later solves on the model (read-back, filling routes) run free
    best_cost: int | None = None
    best: pywrapcp.Assignment | None = field(default=None, repr=False)  # the best plan's next-variables
    _keep: list = field(default_factory=list, repr=False)  # what OR-Tools holds by pointer only


class _RaiseAtNextSearch(pywrapcp.SearchMonitor):
    def __init__(self, solver: pywrapcp.Solver, work: WorkSpent) -> None:
        super().__init__(solver)
        self.work = work

    def EnterSearch(self) -> None:  # noqa: N802 (OR-Tools' name)
        if not self.work.off:
            raise BudgetSpent


def watch(routing: pywrapcp.RoutingModel, budget: WorkBudget) -> WorkSpent:
    """Count ``routing``'s ILS rounds against ``budget`` and keep its best plan; call before solving, and
    :func:`disarm` after (whether the solve returned or raised)."""
    solver = routing.solver()
    work = WorkSpent()
    best = solver.Assignment()
    for index in range(routing.Size()):
        best.Add(routing.NextVar(index))
    work.best = best

    def entered() -> None:
        work.searches += 1
        if work.off or work.reached or work.searches - work.searches_at_best < budget.rounds:
            return
        work.reached = True
        stopper = _RaiseAtNextSearch(solver, work)
        work._keep.append(stopper)
        routing.AddSearchMonitor(stopper)

    def at_solution() -> None:
        cost = routing.CostVar()
        # A perturbed plan skips the finalizer, so its cost may be unbound: only bound costs are plans.
        if cost.Bound() and (work.best_cost is None or cost.Value() < work.best_cost):
            work.best_cost, work.searches_at_best = cost.Value(), work.searches
            best.Store()  # in C++: reading 250 routes' variables through Python at each improvement costs ~0.3 s a plan

    work._keep.extend([entered, at_solution])
    routing.AddEnterSearchCallback(entered)
    routing.AddAtSolutionCallback(at_solution)
    return work


def disarm(work: WorkSpent) -> None:
    work.off = True
