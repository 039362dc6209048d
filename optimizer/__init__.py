"""Rounds' route optimiser: a pure library, frozen dataclasses in and out, no Django."""

from optimizer.check import Violation, check_solution
from optimizer.options import Options
from optimizer.problem import Break, Location, Priority, Problem, Therapist, TimeWindow, Visit
from optimizer.replan import Replan, replan
from optimizer.solution import Kpis, PlacedBreak, Route, Solution, Stop, Unassigned
from optimizer.solve import solve
from optimizer.travel import GeodesicTravel, MatrixTravel, TravelProvider

__all__ = [
    "Break",
    "GeodesicTravel",
    "Kpis",
    "Location",
    "MatrixTravel",
    "Options",
    "PlacedBreak",
    "Priority",
    "Problem",
    "Replan",
    "Route",
    "Solution",
    "Stop",
    "Therapist",
    "TimeWindow",
    "TravelProvider",
    "Unassigned",
    "Violation",
    "Visit",
    "check_solution",
    "replan",
    "solve",
]
