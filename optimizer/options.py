"""Search settings and objective weights."""

from __future__ import annotations

from dataclasses import dataclass

from optimizer.problem import Priority

# Deterministic mode: the wall clock stops the search only at this many times the time limit
# (a machine that loaded or that much slower than the one the budget was calibrated on).
WALL_CAP_FACTOR = 3.0

FIRST_SOLUTION_STRATEGIES = (
    "AUTOMATIC",
    "PATH_CHEAPEST_ARC",
    "PARALLEL_CHEAPEST_INSERTION",
    "LOCAL_CHEAPEST_INSERTION",
    "SAVINGS",
    "CHRISTOFIDES",
)
METAHEURISTICS = (
    "GUIDED_LOCAL_SEARCH",
    "ITERATED_LOCAL_SEARCH",
    "SIMULATED_ANNEALING",
    "TABU_SEARCH",
    "GREEDY_DESCENT",
)


@dataclass(frozen=True)
class Options:
    """How to search and what a plan costs.

    The objective is in hundredths of a "travel minute": an arc costs
    ``travel_min_weight * minutes * therapist.cost_weight + travel_km_weight * km``; leaving a
    visit out costs the penalty of its priority; serving a visit that has preferred therapists
    with another therapist costs ``continuity_cost``.

    Determinism: the search is single-threaded and its random choices (ruin, recreate) come
    from a generator with a fixed seed, so the same problem, options and seed give the same
    plan when the search stops at the same point. A time limit stops it at a point that
    depends on machine load. With ``deterministic=True`` (the default, so the product's
    re-plan and ``python -m optimizer solve`` use it) the search stops after a number of
    solutions calibrated on this 2-core machine to end well inside the time limit
    (``solve.solution_budget``: about 0.8 s of a 1 s and 10 s of a 15 s limit on the 250-visit
    day), and accepts improvements only (annealing would follow the clock). The wall clock is
    only a generous safety cap, ``wall_cap_s`` (default ``WALL_CAP_FACTOR`` times the time
    limit), so that a loaded or slower machine takes longer but finds the same plan. A day whose
    ruins stop finding better plans would never reach that count: a second budget, of ILS rounds
    without a better plan (``solve.work_budget``, ``optimizer.work_budget``), ends it. When a
    budget is reached, ``Solution.stopped_by`` is ``"solution_limit"`` or ``"work_limit"`` and
    the plan is reproducible (same OR-Tools build); when the cap cuts it short,
    ``stopped_by == "time_limit"`` and it may not be. ``processes`` above 1 runs that many
    searches of a day plan side by side, one per process, and keeps the best (``optimizer.portfolio``; each stops on its own budget, so the
    choice is as reproducible as the searches; a large day planned in regions, a re-plan and a
    daemonic process take one search). ``deterministic=False`` searches until ``time_limit_s`` with annealing (the
    benchmarks use it, to compare with peers at equal time). An explicit ``solution_limit``
    replaces the calibrated budget. ``seed`` permutes the order in which visits enter the
    model (0 keeps the input order), which changes ties in the search.

    Re-plans: a visit with a ``current_therapist`` is booked, and changing it costs (in the same
    travel minutes): ``move_cost_per_min`` for every minute its start moves, earlier or later,
    beyond ``move_tolerance_min`` (default 15: a patient told 11:00 is not upset by 11:10);
    ``reassign_cost`` when another therapist serves it; ``unbook_cost`` on top of its
    priority's penalty when it is left out. The defaults rank the changes as a coordinator does:
    a few minutes of travel never outweigh a minute of a patient's waiting beyond the tolerance
    (30); handing a visit to a colleague (300) costs what ten such minutes do; unbooking a
    routine visit (1,000 + 6,000) costs more than leaving out a new routine (1,000) or even two
    new "soon" requests (6,000), but less than an urgent one (10,000), so booked visits are
    dropped only for urgent work or when they cannot be kept. Visits without a current
    therapist (day plans, new requests) pay none of these.
    """

    time_limit_s: float = 10.0
    seed: int = 0
    solution_limit: int | None = None
    travel_min_weight: float = 1.0
    travel_km_weight: float = 0.0
    unassigned_penalty_routine: float = 1_000.0
    unassigned_penalty_soon: float = 3_000.0
    unassigned_penalty_urgent: float = 10_000.0
    continuity_cost: float = 30.0
    first_solution_strategy: str = "PARALLEL_CHEAPEST_INSERTION"
    metaheuristic: str = "ITERATED_LOCAL_SEARCH"
    guided_local_search_lambda: float = 0.1
    extra_lns: bool = True
    ruin_avg_removed: int = 5  # 15 and 10 before: 3-8 % dearer plans on the generated days (results file)
    ruin_max_sequence: int = 3
    deterministic: bool = True  # before the re-plan weights, so positional construction keeps working
    move_tolerance_min: int = 15
    move_cost_per_min: float = 30.0
    reassign_cost: float = 300.0
    unbook_cost: float = 6_000.0
    wall_cap_s: float | None = None  # deterministic mode's safety cap; None: WALL_CAP_FACTOR * time_limit_s
    processes: int = 1  # searches side by side for a day plan, the best kept (``optimizer.portfolio``)

    def __post_init__(self) -> None:
        if self.time_limit_s <= 0:
            raise ValueError(f"time_limit_s: {self.time_limit_s} is not positive.")
        if self.wall_cap_s is not None and self.wall_cap_s <= 0:
            raise ValueError(f"wall_cap_s: {self.wall_cap_s} is not positive.")
        if self.processes < 1:
            raise ValueError(f"processes: {self.processes} is below 1.")
        if self.solution_limit is not None and self.solution_limit < 1:
            raise ValueError(f"solution_limit: {self.solution_limit} is below 1.")
        if self.first_solution_strategy not in FIRST_SOLUTION_STRATEGIES:
            raise ValueError(f"first_solution_strategy: {self.first_solution_strategy!r} is not supported.")
        if self.metaheuristic not in METAHEURISTICS:
            raise ValueError(f"metaheuristic: {self.metaheuristic!r} is not supported.")
        for name in (
            "travel_min_weight",
            "travel_km_weight",
            "continuity_cost",
            "unassigned_penalty_routine",
            "move_tolerance_min",
            "move_cost_per_min",
            "reassign_cost",
            "unbook_cost",
        ):
            if getattr(self, name) < 0:
                raise ValueError(f"{name}: {getattr(self, name)} is negative.")
        if not self.unassigned_penalty_routine <= self.unassigned_penalty_soon <= self.unassigned_penalty_urgent:
            raise ValueError("unassigned_penalty_soon: penalties must not fall as priority rises.")

    @property
    def wall_limit_s(self) -> float:
        """The wall-clock limit of the whole call: the time limit itself in time mode, the safety
        cap in deterministic mode."""
        if not self.deterministic:
            return self.time_limit_s
        return self.wall_cap_s if self.wall_cap_s is not None else WALL_CAP_FACTOR * self.time_limit_s

    def penalty(self, priority: Priority) -> float:
        return {
            Priority.ROUTINE: self.unassigned_penalty_routine,
            Priority.SOON: self.unassigned_penalty_soon,
            Priority.URGENT: self.unassigned_penalty_urgent,
        }[priority]
