"""The output of the optimiser: frozen dataclasses with a JSON-friendly ``to_dict``."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

UNASSIGNED_CODES = ("no_skill", "outside_shifts", "no_eligible_therapist", "unreachable", "displaced")
STATUSES = ("optimal", "feasible", "no_solution", "empty")
STOPS = ("solution_limit", "work_limit", "time_limit", "optimal", "completed", "first_plan")
# The budgets of deterministic mode: a search that stopped on either gives the same plan for the same inputs.
BUDGET_STOPS = ("solution_limit", "work_limit")
# The least reproducible first: a plan made of several searches (regions, a portfolio) is as reproducible as its
# least reproducible search.
STOPS_BY_REPRODUCIBILITY = ("time_limit", "first_plan", "work_limit", "solution_limit", "completed", "optimal")


def _require(ok: bool, message: str) -> None:
    if not ok:
        raise ValueError(message)


@dataclass(frozen=True)
class Stop:
    visit_id: str
    arrival_min: int
    start_min: int
    end_min: int
    travel_min: float
    travel_km: float
    buffer_end_min: int | None = None

    def __post_init__(self) -> None:
        _require(self.start_min >= self.arrival_min, f"start_min: {self.start_min} is before arrival_min.")
        _require(self.end_min >= self.start_min, f"end_min: {self.end_min} is before start_min.")
        if self.buffer_end_min is None:
            object.__setattr__(self, "buffer_end_min", self.end_min)
        _require(self.buffer_end_min >= self.end_min, f"buffer_end_min: {self.buffer_end_min} is before end_min.")


@dataclass(frozen=True)
class PlacedBreak:
    start_min: int
    end_min: int

    def __post_init__(self) -> None:
        _require(self.end_min >= self.start_min, f"end_min: {self.end_min} is before start_min.")


@dataclass(frozen=True)
class Route:
    therapist_id: str
    stops: tuple[Stop, ...]
    breaks: tuple[PlacedBreak, ...]
    start_min: int
    end_min: int
    travel_min: float
    travel_km: float

    def __post_init__(self) -> None:
        _require(self.end_min >= self.start_min, f"end_min: {self.end_min} is before start_min.")

    @property
    def working_min(self) -> int:
        return self.end_min - self.start_min if self.stops else 0


@dataclass(frozen=True)
class Unassigned:
    """A visit left out, with the reason the final plan supports.

    When the reason says the visit fits somewhere, ``therapist_id`` could start it at
    ``start_min`` once the visits in ``drops`` leave that therapist's route (none: it fits as
    the route stands); the other rules of that route all still hold.
    """

    visit_id: str
    code: str
    reason: str
    therapist_id: str | None = None
    start_min: int | None = None
    drops: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _require(self.code in UNASSIGNED_CODES, f"code: {self.code!r} is not one of {UNASSIGNED_CODES}.")


@dataclass(frozen=True)
class Kpis:
    travel_min: float
    travel_km: float
    working_min: int
    utilisation: float
    continuity_rate: float | None
    assigned: int
    unassigned: int


@dataclass(frozen=True)
class Solution:
    routes: tuple[Route, ...]
    unassigned: tuple[Unassigned, ...]
    kpis: Kpis
    status: str
    objective: int
    solve_time_s: float
    # What ended the search: "solution_limit" or "work_limit" (deterministic mode's budgets: the
    # same problem, options and seed give this plan again, whatever the machine's load; the
    # second when the ruins stopped finding better plans), "time_limit" (depends on load), "optimal" or
    # "completed" (the search ended by itself, also reproducible), "first_plan" (the time limit
    # ran out before any plan, so the first heuristic plan was taken, late), or None when there
    # was no search.
    stopped_by: str | None = None

    def __post_init__(self) -> None:
        _require(self.status in STATUSES, f"status: {self.status!r} is not one of {STATUSES}.")
        _require(
            self.stopped_by is None or self.stopped_by in STOPS,
            f"stopped_by: {self.stopped_by!r} is not one of {STOPS}.",
        )
        _require(self.solve_time_s >= 0, f"solve_time_s: {self.solve_time_s} is negative.")

    def is_feasible(self) -> bool:
        return self.status in ("optimal", "feasible", "empty")

    def route_of(self, therapist_id: str) -> Route | None:
        return next((r for r in self.routes if r.therapist_id == therapist_id), None)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly dict (tuples become lists, floats are rounded to 0.01)."""
        return _plain(dataclasses.asdict(self))


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, float):
        return round(value, 2)
    return value
