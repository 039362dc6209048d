"""The single entry point: build the routing model, search, read the plan back."""

from __future__ import annotations

import dataclasses
import logging
import math
import time as clock
from collections.abc import Callable, Mapping, Sequence

from ortools.constraint_solver import pywrapcp, routing_enums_pb2, routing_ils_pb2
from ortools.util import optional_boolean_pb2

from optimizer.analysis import kpis_of, prefilter
from optimizer.reasons import explain_unassigned
from optimizer.construction import constructed_plan, insert_left_out, routes_of
from optimizer.decompose import should_decompose, solve_decomposed
from optimizer.check import patient_clashes
from optimizer.constraints import HARD_CONSTRAINTS, SOFT_CONSTRAINTS, TIME, add_breaks, unassigned_penalty
from optimizer.model_data import ModelData, build_model_data, ceil_min
from optimizer.options import Options
from optimizer.problem import Problem
from optimizer.solution import PlacedBreak, Route, Solution, Stop
from optimizer.warm_start import initial_assignment, keep_booked_times, keep_plan, one_solution
from optimizer.work_budget import BudgetSpent, WorkBudget, WorkSpent, disarm, watch

log = logging.getLogger(__name__)

# The wall-clock limit (``Options.wall_limit_s``: the time limit in time mode, the safety cap in
# deterministic mode) covers the whole call. The search gets what the build left, less a reserve for
# reading the plan back and for the search overrunning its limit (measured 0.1-0.3 s on the
# 250-visit day), but never less than MIN_SEARCH_S: without a first plan there is nothing to return.
READBACK_RESERVE_S = 0.1
OVERRUN_FRACTION = 0.02
MIN_SEARCH_S = 0.3
FALLBACK_MIN_S = 10.0  # the fallback's first plan: late beats none, on a loaded machine too
# Progress reports read the routes back; more often than this would slow a big day's search.
PROGRESS_EVERY_S = 0.25

# Deterministic mode stops the search after a number of solutions instead of a time: the number
# the search reaches in MARGIN of the time limit on this 2-core machine; the wall clock only cuts it
# at the safety cap (``Options.WALL_CAP_FACTOR`` times the limit). Calibrated with greedy
# acceptance on generated days of 25-250 visits and Solomon C101, one other core busy: after a
# first plan that takes about FIRST_PLAN_S * (visits / 250)**2 seconds (build included), about
# RATE_CONSTANT * visits**-1.4 solutions a second (measured 95/s at 250 visits, 240/s at 120,
# 317/s at 100, 910/s at 60, 2450/s at 25), capped at MAX_RATE below ~30 visits (measured
# 2300-10000/s at 5-15 visits, depending on breaks and therapists). Improvements get rarer as the
# search goes on: on the 250-visit day 45 solutions came in the first 0.45 s, 431 in 4.3 s, 989 in
# 11.5 s, so the budget grows as seconds**TIME_EXPONENT. The wall-clock limit stays as a safety cap.
RATE_CONSTANT = 200_000.0
RATE_EXPONENT = 1.4
MAX_RATE = 2_000.0
FIRST_PLAN_S = 0.55
TIME_EXPONENT = 0.9
MARGIN = 0.8
# The calibration ruined strings of RUIN_CALIBRATED visits on average; smaller ruins make each solution dearer
# (measured at 250 visits, same machine and load: 8 visits, 1.12 times the CPU per solution; 5, 1.32; 3 about
# what 5 costs), so a day plan's budget shrinks as (max(ruin, RUIN_FLOOR) / RUIN_CALIBRATED) ** RUIN_EXPONENT to
# keep its time (0.76 at the default 5).
RUIN_CALIBRATED = 15
RUIN_FLOOR = 5
RUIN_EXPONENT = 0.25

# Deterministic mode's second budget (``optimizer.work_budget``), for days the solution budget leaves to the
# wall clock because the ruins stop finding better plans: ILS rounds (inner searches begun) since the best plan
# last improved. Measured 2026-12-03 17:40 UTC, idle (the host at about 60 % of the morning's speed), 10 s limit:
# with this budget lifted the demo's Saturday finds no better plan after its first descent, 741 inner searches
# to the 29.3 s cap and 90 solutions of its 880 budget; its Monday none after its 58th; the generated 250-visit
# days reach their solution budget within about 70-250 inner searches at 15 s. ROUNDS_PER_S per second of the
# limit ends the Saturday at 13.4 s and the Monday at 19.7 s with the plans the cap gave (the same objective),
# and leaves the generated days to their solution budget.
ROUNDS_PER_S = 30.0

# Operators off by default that pay for themselves on time-windowed instances.
EXTRA_OPERATORS = (
    "use_relocate_neighbors",
    "use_cross_exchange",
    "use_extended_swap_active",
    "use_path_lns",
    "use_inactive_lns",
)


def solve(
    problem: Problem,
    *,
    options: Options | None = None,
    time_limit_s: float | None = None,
    seed: int | None = None,
    progress: Callable[[float, int, int, float], None] | None = None,
    initial_routes: Mapping[str, Sequence[str]] | None = None,
    decompose: bool = True,
) -> Solution:
    """Plan the day: assign visits to therapists and order each therapist's route.

    Parameters
    ----------
    problem
        Therapists, visits and the travel provider.
    options
        Search settings and objective weights; ``Options()`` when omitted.
    time_limit_s
        Overrides ``options.time_limit_s``. In time mode the limit covers the whole call (model
        build, search, read-back): the search gets the remainder, at least ``MIN_SEARCH_S``. In
        deterministic mode it sizes the solution budget, and the wall clock stops the search only
        at ``options.wall_limit_s``.
    seed
        Overrides ``options.seed``.
    progress
        Called as ``progress(elapsed_s, best_objective, visits_assigned, travel_min)`` when the search
        improves its plan: the first plan, then at most every ``PROGRESS_EVERY_S`` (reading the plan's
        routes costs a pass over them), so a coordinator reads "best so far: 87 visits, 940 min travel".
    initial_routes
        A re-plan's current plan: therapist id -> visit ids in visiting order. What of it still
        fits (``warm_start.keep_plan``: windows, shifts, breaks, limits from where each therapist
        is free now) is the search's first solution and the search only improves on it, so the
        result never costs more than keeping it. Unknown ids are ignored. Booked visits
        (``Visit.current_start_min``) end as close to their booked start as their route allows.
    decompose
        Whether a day plan of more than ``decompose.DECOMPOSE_ABOVE`` visits is planned in regions
        (``optimizer.decompose``); the regions themselves are solved with False, so one model each.

    Returns
    -------
    Solution
        The routes, the visits left out with a reason each, KPIs and the search status. When no
        plan is found the status is ``"no_solution"`` and every visit is listed as unassigned.
        ``stopped_by`` says what ended the search; ``"solution_limit"`` and ``"work_limit"`` (the
        deterministic budgets) mean the plan is reproducible for these inputs (see ``Options``),
        ``"time_limit"`` that the wall clock cut it.

    Raises
    ------
    ValueError
        If the options are malformed (the problem checks itself when built).
    """
    options = options or Options()
    overrides = {k: v for k, v in (("time_limit_s", time_limit_s), ("seed", seed)) if v is not None}
    if overrides:
        options = Options(**{**options.__dict__, **overrides})
    started = clock.monotonic()
    modelled, excluded = prefilter(problem)
    if not problem.therapists or not modelled:
        return _result(problem, [], "empty" if not problem.visits else "feasible", 0, started)
    if decompose and initial_routes is None and should_decompose(problem, modelled):
        return solve_decomposed(problem, modelled, options, started, progress=progress)
    if options.processes > 1 and initial_routes is None:
        from optimizer.portfolio import solve_in_processes  # it calls this function, one search each

        return solve_in_processes(problem, options=options, processes=options.processes, progress=progress)
    data = build_model_data(problem, options, modelled)

    best = [None]
    solutions = [0]
    routing, manager, breaks = _build_model(data)

    reported = [-PROGRESS_EVERY_S]

    def on_solution() -> None:
        solutions[0] += 1
        objective = routing.CostVar()
        # With soft bounds on times (re-plans) the cost is bound only once the schedule is set.
        cost = objective.Value() if objective.Bound() else objective.Min()
        if best[0] is None or cost < best[0]:
            best[0] = cost
            now = clock.monotonic()
            if progress is not None and now - reported[0] >= PROGRESS_EVERY_S:
                reported[0] = now
                progress(now - started, cost, *_route_totals(routing, manager, data))

    routing.AddAtSolutionCallback(on_solution)
    search_s = search_time_s(options.wall_limit_s, clock.monotonic() - started, data.n_visits)
    params = search_parameters(options, search_s)
    budget = None
    if options.deterministic and options.solution_limit is None:
        # A re-plan descends from the current plan without ruining, so only a day plan's budget follows the ruin.
        ruin = options.ruin_avg_removed if initial_routes is None else RUIN_CALIBRATED
        params.solution_limit = solution_budget(data.n_visits, options.time_limit_s, ruin=ruin)
        budget = work_budget(data.n_visits, options.time_limit_s) if initial_routes is None else None  # ILS only
    search_started = clock.monotonic()
    work = None
    if initial_routes is not None:
        assignment = _search_from_current_plan(routing, manager, data, params, initial_routes)
    else:
        assignment, work = _search(routing, params, options, budget)
    stopped_by = _stopped_by(solutions[0], params, clock.monotonic() - search_started)
    if work is not None:
        log.debug("search work: %d inner searches (the best at %d), %d solutions in %.2f s (budget %s, %d solutions)",
                  work.searches, work.searches_at_best, solutions[0], clock.monotonic() - search_started, budget,
                  params.solution_limit)
    if work is not None and work.reached:
        stopped_by = "work_limit"
        if assignment is None and work.best_cost is not None:
            # The budget ended the search by raising through it, which leaves that solver mid-search: its best
            # plan is read into a fresh model (~0.1 s for 250 visits), which finds it the same cost.
            best_routes = [[manager.NodeToIndex(n) for n in route] for route in routes_of(routing, manager, work.best)]
            routing, manager, breaks = _build_model(data)
            routing.CloseModelWithParameters(one_solution(params))
            assignment = routing.ReadAssignmentFromRoutes(best_routes, True)
            log.debug("the budget ended the search: its best plan (%d) read back at %s", work.best_cost,
                      None if assignment is None else assignment.ObjectiveValue())
    if assignment is None and stopped_by in ("time_limit", "work_limit"):
        # The budget ran out before a first plan (a loaded machine, a tiny budget): a plan late
        # beats no plan, so take the first heuristic plan whatever it costs in time. A model that
        # timed out does not search well again, so build a fresh one (~0.1 s for 250 visits).
        routing, manager, breaks = _build_model(data)
        params.solution_limit = 1
        params.time_limit.FromMilliseconds(round(max(options.wall_limit_s, FALLBACK_MIN_S) * 1000))
        assignment, _ = _search(routing, params, options)
        stopped_by = "first_plan"
    if assignment is None and stopped_by == "first_plan":
        # OR-Tools found no first plan even late: our own construction's, checker clean, beats none.
        routes = constructed_plan(data)
        return _result(problem, routes, "feasible" if routes else "no_solution", 0, started, stopped_by, data)
    if assignment is None:
        return _result(problem, [], "no_solution", 0, started, stopped_by)
    optimal = routing.status() == routing_enums_pb2.RoutingSearchStatus.ROUTING_OPTIMAL
    assignment = insert_left_out(routing, manager, data, assignment, params)
    routes = keep_booked_times(read_routes(routing, manager, data, assignment, breaks), data)
    status = "optimal" if optimal else "feasible"
    stop = "optimal" if optimal else stopped_by
    return _result(problem, routes, status, assignment.ObjectiveValue(), started, stop, data)


def _route_totals(
    routing: pywrapcp.RoutingModel, manager: pywrapcp.RoutingIndexManager, data: ModelData
) -> tuple[int, float]:
    """Visits served and travel minutes of the plan the search holds now (inside a solution callback)."""
    visits, travel = 0, 0.0
    for v in range(len(data.therapists)):
        matrix = data.travel_min(v)
        index = routing.Start(v)
        previous = manager.IndexToNode(index)
        while not routing.IsEnd(index):
            index = routing.NextVar(index).Value()
            node = manager.IndexToNode(index)
            travel += float(matrix[previous, node])
            visits += 0 if routing.IsEnd(index) else 1
            previous = node
    return visits, travel


def _build_model(data: ModelData) -> tuple[pywrapcp.RoutingModel, pywrapcp.RoutingIndexManager, list]:
    manager = pywrapcp.RoutingIndexManager(
        len(data.locations),
        len(data.therapists),
        [data.start_node(v) for v in range(len(data.therapists))],
        [data.end_node(v) for v in range(len(data.therapists))],
    )
    routing = pywrapcp.RoutingModel(manager)
    for add in HARD_CONSTRAINTS + SOFT_CONSTRAINTS:
        add(routing, manager, data)
    breaks = add_breaks(routing, manager, data)
    return routing, manager, breaks


def _search_from_current_plan(
    routing: pywrapcp.RoutingModel,
    manager: pywrapcp.RoutingIndexManager,
    data: ModelData,
    params: pywrapcp.RoutingSearchParameters,
    initial_routes: Mapping[str, Sequence[str]],
) -> pywrapcp.Assignment | None:
    """Descend from what still fits of the current plan (iterated local search has no such entry
    in OR-Tools' Python API, so its greedy descent runs from there), or search afresh if OR-Tools
    accepts none of it."""
    routing.CloseModelWithParameters(one_solution(params))  # the read-back's limits; the search gets its own
    start, _ = initial_assignment(routing, manager, data, keep_plan(data, initial_routes))
    if start is None:
        return routing.SolveWithParameters(params)
    return routing.SolveFromAssignmentWithParameters(start, params)


def _search(
    routing: pywrapcp.RoutingModel,
    params: pywrapcp.RoutingSearchParameters,
    options: Options,
    budget: WorkBudget | None = None,
) -> tuple[pywrapcp.Assignment | None, WorkSpent | None]:
    """The search's plan, and with a budget (deterministic ILS) the work it took; a plan of None with the
    budget spent means the budget ended it mid-search (its best plan is in the WorkSpent)."""
    if options.metaheuristic != "ITERATED_LOCAL_SEARCH":
        return routing.SolveWithParameters(params), None
    work = watch(routing, budget) if budget is not None else None
    try:
        assignment = routing.SolveWithIteratedLocalSearch(params)
    except BudgetSpent:
        assignment = None
    if work is not None:
        disarm(work)
    return assignment, work


def search_time_s(time_limit_s: float, spent_s: float, n_visits: int = 0) -> float:
    """The search's share of ``time_limit_s`` once ``spent_s`` went on the build.

    At least MIN_SEARCH_S and 1.5 times the expected first plan: stopping before the first plan
    would cost the fallback's fresh start on top.
    """
    reserve = READBACK_RESERVE_S + OVERRUN_FRACTION * time_limit_s
    return max(time_limit_s - spent_s - reserve, MIN_SEARCH_S, 1.5 * first_plan_s(n_visits))


def first_plan_s(n_visits: int) -> float:
    """Expected seconds to build and find the first plan on this machine (0.55 s at 250 visits)."""
    return FIRST_PLAN_S * (n_visits / 250) ** 2


def solution_budget(n_visits: int, time_limit_s: float, *, ruin: int = RUIN_CALIBRATED) -> int:
    """The solutions that stand in for ``time_limit_s`` on ``n_visits`` visits, after the first plan,
    for a search ruining ``ruin`` visits on average (``Options.ruin_avg_removed``).

    Only the problem size, the limit and the ruin enter, never a measured time, so the budget is
    the same run to run.
    """
    n = max(n_visits, 1)
    rate = min(RATE_CONSTANT * n**-RATE_EXPONENT, MAX_RATE) * min(1.0, max(ruin, RUIN_FLOOR) / RUIN_CALIBRATED) ** RUIN_EXPONENT
    nominal_s = time_limit_s - READBACK_RESERVE_S - OVERRUN_FRACTION * time_limit_s
    improving_s = max(nominal_s - first_plan_s(n), 0.0)
    return 1 + math.ceil(MARGIN * rate * improving_s**TIME_EXPONENT)


def work_budget(n_visits: int, time_limit_s: float) -> WorkBudget:
    """How many ILS rounds a search may go without a better plan for ``time_limit_s``: from the limit and the
    problem's size only (as ``solution_budget``), so it is the same run to run."""
    nominal_s = time_limit_s - READBACK_RESERVE_S - OVERRUN_FRACTION * time_limit_s
    improving_s = max(nominal_s - first_plan_s(max(n_visits, 1)), 0.0)
    return WorkBudget(rounds=1 + math.ceil(ROUNDS_PER_S * improving_s))


def search_parameters(options: Options, time_limit_s: float | None = None) -> pywrapcp.RoutingSearchParameters:
    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = getattr(routing_enums_pb2.FirstSolutionStrategy, options.first_solution_strategy)
    if options.metaheuristic == "ITERATED_LOCAL_SEARCH":
        # Each perturbed plan is improved to a local optimum, then accepted or not.
        params.local_search_metaheuristic = routing_enums_pb2.LocalSearchMetaheuristic.GREEDY_DESCENT
        set_ruin_and_recreate(params, options)
        # Randomised LNS operators never run dry, so the descent would never reach the optimum
        # at which ILS perturbs; ruin-and-recreate plays their part.
        for field in params.local_search_operators.DESCRIPTOR.fields:
            if field.name.endswith("_lns"):
                setattr(params.local_search_operators, field.name, optional_boolean_pb2.BOOL_FALSE)
    else:
        params.local_search_metaheuristic = getattr(routing_enums_pb2.LocalSearchMetaheuristic, options.metaheuristic)
    params.guided_local_search_lambda_coefficient = options.guided_local_search_lambda
    limit = options.wall_limit_s if time_limit_s is None else time_limit_s
    params.time_limit.FromMilliseconds(round(limit * 1000))
    if options.solution_limit is not None:
        params.solution_limit = options.solution_limit
    if options.extra_lns and options.metaheuristic != "ITERATED_LOCAL_SEARCH":
        for name in EXTRA_OPERATORS:
            setattr(params.local_search_operators, name, optional_boolean_pb2.BOOL_TRUE)
    return params


def set_ruin_and_recreate(params: pywrapcp.RoutingSearchParameters, options: Options) -> None:
    """Iterated local search: SISR ruin (strings of nearby visits), cheapest-insertion recreate."""
    ils = params.iterated_local_search_parameters
    ils.perturbation_strategy = routing_ils_pb2.PerturbationStrategy.RUIN_AND_RECREATE
    ruin = ils.ruin_recreate_parameters.ruin_strategies.add()
    ruin.sisr.max_removed_sequence_size = options.ruin_max_sequence
    ruin.sisr.avg_num_removed_visits = options.ruin_avg_removed
    ruin.sisr.bypass_factor = 0.01
    ils.ruin_recreate_parameters.recreate_strategy.heuristic = (
        routing_enums_pb2.FirstSolutionStrategy.LOCAL_CHEAPEST_INSERTION
    )
    ils.improve_perturbed_solution = True
    if options.deterministic:
        # The annealing cools by max(time progress, solution progress); on a big day the first
        # plan alone takes half of a 1 s re-plan, so time would lead and acceptance would depend
        # on machine speed, whatever the solution limit. Accepting only improvements keeps the
        # search free of the clock.
        ils.reference_solution_acceptance_strategy.greedy_descent.SetInParent()
        return
    annealing = ils.reference_solution_acceptance_strategy.simulated_annealing
    annealing.cooling_schedule_strategy = routing_ils_pb2.CoolingScheduleStrategy.EXPONENTIAL
    annealing.automatic_temperatures = True


def read_routes(
    routing: pywrapcp.RoutingModel,
    manager: pywrapcp.RoutingIndexManager,
    data: ModelData,
    assignment: pywrapcp.Assignment,
    breaks: list,
) -> list[Route]:
    time = routing.GetDimensionOrDie(TIME)
    placed: dict[int, list[PlacedBreak]] = {}
    intervals = assignment.IntervalVarContainer()
    for k in range(intervals.Size()):
        element = intervals.Element(k)
        # An assignment that grew from initial routes may hold a break's start as a range (780..900 in a 28-day
        # simulation, seed 3, day 21): StartValue() would abort the process; its earliest start is a valid one.
        if element.PerformedMin():
            vehicle = int(element.Var().Name().split()[1])
            start = element.StartMin()
            placed.setdefault(vehicle, []).append(PlacedBreak(start, start + element.DurationValue()))
    routes = []
    for v, therapist in enumerate(data.therapists):
        travel = data.travel_min(v)
        overhead = data.arrival_overhead()
        index = routing.Start(v)
        previous = manager.IndexToNode(index)
        free_at = assignment.Value(time.CumulVar(index))
        route_start = free_at
        stops = []
        while not routing.IsEnd(index):
            index = assignment.Value(routing.NextVar(index))
            node = manager.IndexToNode(index)
            if routing.IsEnd(index):
                break
            visit = data.visits[node]
            start = assignment.Value(time.CumulVar(index))
            leg_min, leg_km = float(travel[previous, node]), float(data.km[previous, node])
            arrival = min(start - int(overhead[previous, node]), free_at + ceil_min(leg_min))
            end = start + visit.duration_min
            stops.append(Stop(visit.id, max(arrival, free_at), start, end, leg_min, leg_km, end + visit.buffer_min))
            free_at, previous = end + visit.buffer_min, node
        if not stops:
            continue
        end_node = manager.IndexToNode(index)
        breaks_after = sum(b.end_min - b.start_min for b in placed.get(v, []) if b.start_min >= free_at)
        # The finalizer does not always pull the end in; the earliest return is the true one.
        end = min(assignment.Value(time.CumulVar(index)), free_at + ceil_min(travel[previous, end_node]) + breaks_after)
        routes.append(
            Route(
                therapist_id=therapist.id,
                stops=tuple(stops),
                breaks=tuple(sorted(placed.get(v, []), key=lambda b: b.start_min)),
                start_min=route_start,
                end_min=end,
                travel_min=sum(s.travel_min for s in stops) + float(travel[previous, end_node]),
                travel_km=sum(s.travel_km for s in stops) + float(data.km[previous, end_node]),
            )
        )
    return routes


def _stopped_by(solutions: int, params: pywrapcp.RoutingSearchParameters, search_s: float) -> str:
    if solutions >= params.solution_limit:
        return "solution_limit"
    if search_s >= 0.95 * params.time_limit.ToMilliseconds() / 1000:
        return "time_limit"
    return "completed"  # the search ended by itself (a local optimum without a metaheuristic)


def _result(
    problem: Problem,
    routes: list[Route],
    status: str,
    objective: int,
    started: float,
    stopped_by: str | None = None,
    data: ModelData | None = None,
) -> Solution:
    routes = _without_patient_clashes(problem, routes, data)
    unassigned = explain_unassigned(problem, routes, data)
    return Solution(
        routes=tuple(routes),
        unassigned=tuple(unassigned),
        kpis=kpis_of(problem, routes, unassigned),
        status=status,
        objective=objective,
        solve_time_s=clock.monotonic() - started,
        stopped_by=stopped_by,
    )


def _without_patient_clashes(problem: Problem, routes: list[Route], data: ModelData | None) -> list[Route]:
    """``routes`` with a stop left out wherever one patient's sessions overlap.

    The model keeps them apart; the plans finished outside it (the regions' mending, the
    constructed fallback) time each route on its own, so this is their last word. Of two
    clashing visits the one cheaper to leave out goes (then the later one); taking a stop out
    leaves the rest of its route valid (travel obeys the triangle inequality).
    """
    clashes = patient_clashes(problem, routes)
    if not clashes:
        return routes
    options = data.options if data is not None else Options()
    by_id = {v.id: v for v in problem.visits}
    dropped: set[str] = set()
    for _, (first, _), (later, _) in clashes:
        if first.visit_id in dropped or later.visit_id in dropped:
            continue
        keep_first = unassigned_penalty(by_id[first.visit_id], options) >= unassigned_penalty(
            by_id[later.visit_id], options
        )
        dropped.add(later.visit_id if keep_first else first.visit_id)
    out = []
    for route in routes:
        stops = tuple(s for s in route.stops if s.visit_id not in dropped)
        if stops == route.stops:
            out.append(route)
        elif stops:
            # Travel and times stay as solved: a gap where the visit was, the figures a little high.
            out.append(dataclasses.replace(route, stops=stops))
    return out
