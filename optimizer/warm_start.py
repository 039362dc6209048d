"""Re-plans start from the current plan: what of it can still be kept, and keeping booked times.

``keep_plan`` walks each therapist's current route in its order from where and when they are
free now and keeps every visit that still fits; it says of every other visit which rule it
would break. ``initial_assignment`` hands the kept routes to OR-Tools (``ReadAssignmentFromRoutes``)
as the search's first solution, so a re-plan is never worse than keeping what still fits.
``keep_booked_times`` puts each booked visit back at its booked minute when its route allows.

Why hand-written: OR-Tools answers only "these routes are feasible or not"; a coordinator must
read which visit no longer fits and why, so the walk is ours (the model's own integer transit
matrix keeps it consistent with the solver), and OR-Tools re-checks its result.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from ortools.linear_solver import pywraplp

from optimizer.check import check_route, patient_clashes
from optimizer.model_data import ModelData, build_model_data, ceil_min
from optimizer.options import Options
from optimizer.solution import PlacedBreak, Route, Stop

if TYPE_CHECKING:
    from ortools.constraint_solver import pywrapcp

    from optimizer.problem import Break, Problem, Visit

# Why a visit of the current plan cannot stay where it is.
ABSENT = "absent"  # its therapist is no longer working today
NOT_ELIGIBLE = "not_eligible"  # its therapist may no longer serve it (pinned elsewhere, excluded, skills)
WINDOW = "window"  # it would start after its last window closes
SHIFT = "shift"  # its therapist could not be back by the end of the shift
BREAK = "break"  # it would take the time of a break (or of a gap between two shifts)
PINNED = "pinned"  # its pinned start can no longer be met
LIMIT = "limit"  # the therapist's visit count or working-time limit, or what only the solver sees
BROKEN_RULES = (ABSENT, NOT_ELIGIBLE, WINDOW, SHIFT, BREAK, PINNED, LIMIT)


@dataclass(frozen=True)
class Broken:
    """A visit the current plan can no longer keep: the rule, and the minute it bites at."""

    visit_id: str
    therapist_id: str
    rule: str
    at_min: int | None = None  # the window's close, the shift's end, the break's latest start

    def __post_init__(self) -> None:
        if self.rule not in BROKEN_RULES:
            raise ValueError(f"rule: {self.rule!r} is not one of {BROKEN_RULES}.")


@dataclass(frozen=True)
class KeptPlan:
    """The current plan less what no longer fits, re-timed from where each therapist is now."""

    routes: dict[str, tuple[str, ...]]  # therapist id -> visit ids kept, in visiting order
    starts: dict[str, int]  # visit id -> the start the walk found (booked time when reachable)
    broken: dict[str, Broken]
    travel_min: float = 0.0  # travel of the current plan as it stood, broken visits included
    timed: dict[str, Route] = field(default_factory=dict)  # therapist id -> the kept route with times

    def moved(self, visits: Mapping[str, Visit]) -> set[str]:
        """Kept visits whose start differs from their booked one."""
        return {
            vid
            for vid, start in self.starts.items()
            if visits[vid].current_start_min is not None and start != visits[vid].current_start_min
        }


def keep_current_plan(
    problem: Problem, routes: Mapping[str, Sequence[str]], options: Options | None = None
) -> KeptPlan:
    """What of ``routes`` (therapist id -> visit ids in order) still fits ``problem``, and why the rest does not."""
    return keep_plan(build_model_data(problem, options or Options(), list(problem.visits)), routes)


def keep_plan(data: ModelData, routes: Mapping[str, Sequence[str]]) -> KeptPlan:
    node_of = {v.id: i for i, v in enumerate(data.visits)}
    vehicle_of = {t.id: k for k, t in enumerate(data.therapists)}
    kept: dict[str, tuple[str, ...]] = {}
    starts: dict[str, int] = {}
    broken: dict[str, Broken] = {}
    timed: dict[str, Route] = {}
    travel = 0.0
    for therapist_id, visit_ids in routes.items():
        ids = [vid for vid in visit_ids if vid in node_of]
        k = vehicle_of.get(therapist_id)
        if k is None:
            broken |= {vid: Broken(vid, therapist_id, ABSENT) for vid in ids}
            continue
        walk = RouteWalk(data, k)
        for vid in ids:
            rule = walk.add(node_of[vid])
            if rule is not None:
                broken[vid] = Broken(vid, therapist_id, *rule)
        kept[therapist_id] = tuple(data.visits[n].id for n in walk.nodes)
        starts |= {data.visits[n].id: s for n, s in zip(walk.nodes, walk.starts, strict=True)}
        if walk.nodes:
            timed[therapist_id] = walk.route()
        travel += travel_along(data, k, [node_of[vid] for vid in ids])
    return KeptPlan(kept, starts, broken, travel, timed)


class RouteWalk:
    """One therapist's route served in order as early as allowed but never before a booked time."""

    def __init__(self, data: ModelData, vehicle: int) -> None:
        self.data, self.vehicle = data, vehicle
        self.therapist = data.therapists[vehicle]
        self.transit = transit_matrix(data, vehicle)
        self.nodes: list[int] = []
        self.starts: list[int] = []
        self.pending: list[Break] = sorted(self.therapist.breaks, key=lambda b: b.earliest_start_min)
        self.breaks_taken: list[PlacedBreak] = []
        self.pending_after: list[int] = []  # breaks still owed after each kept stop

    def copy(self) -> RouteWalk:
        """The walk so far, to try different continuations of one prefix."""
        twin = object.__new__(RouteWalk)
        twin.__dict__ = {**self.__dict__}
        twin.nodes, twin.starts = list(self.nodes), list(self.starts)
        twin.pending, twin.breaks_taken = list(self.pending), list(self.breaks_taken)
        twin.pending_after = list(self.pending_after)
        return twin

    def _last(self) -> tuple[int, int, int]:
        """(node, its start, the minute it is over) of the last kept stop, or the route's start."""
        if not self.nodes:
            start = self.therapist.shift_start_min
            return self.data.start_node(self.vehicle), start, start
        node, start = self.nodes[-1], self.starts[-1]
        return node, start, start + self.data.service_min[node]

    def add(self, node: int) -> tuple[str, int | None] | None:
        """Keep ``node`` at the end of the route, or return the rule it breaks (and the route stays)."""
        visit, therapist = self.data.visits[node], self.therapist
        if not visit.eligible(therapist):
            return (NOT_ELIGIBLE, None)
        if therapist.max_visits is not None and len(self.nodes) >= therapist.max_visits:
            return (LIMIT, None)
        prev, prev_start, prev_free = self._last()
        service = self.data.service_min[node]
        ready = prev_start + int(self.transit[prev, node])
        pending, taken = list(self.pending), []
        start = self._start_from(visit, ready)
        # A break is taken before this visit when the wait before it has room for the break, or
        # when its latest start would otherwise fall inside the visit (then the visit waits).
        while pending and start is not None:
            b = pending[0]
            b_start = max(prev_free, b.earliest_start_min)
            with_break = max(ready, b_start) + b.duration_min
            forced = start + service > b.latest_start_min
            if not forced and (b_start > b.latest_start_min or with_break > start):
                break
            if b_start > b.latest_start_min:
                return (BREAK, b.latest_start_min)
            pending.pop(0)
            taken.append(PlacedBreak(b_start, b_start + b.duration_min))
            ready, prev_free = with_break, b_start + b.duration_min
            start = self._start_from(visit, max(ready, start))
        if start is None:
            return (WINDOW, max(w.end_min for w in visit.windows))
        if visit.pinned_start_min is not None and start != visit.pinned_start_min:
            return (PINNED, visit.pinned_start_min)
        back = start + int(self.transit[node, self.data.end_node(self.vehicle)])
        back += sum(b.duration_min for b in pending)
        if back > therapist.shift_end_min:
            return (SHIFT, therapist.shift_end_min)
        if therapist.max_working_min is not None:
            first_node, first_start = (self.nodes[0], self.starts[0]) if self.nodes else (node, start)
            leave = first_start - int(self.transit[self.data.start_node(self.vehicle), first_node])
            if back - leave > therapist.max_working_min:
                return (LIMIT, None)
        self.nodes.append(node)
        self.starts.append(start)
        self.pending = pending
        self.pending_after.append(len(pending))
        self.breaks_taken += taken
        return None

    def route(self) -> Route:
        """The kept route with its times; breaks still owed are taken after the last visit."""
        data, vehicle = self.data, self.vehicle
        travel, overhead = data.travel_min(vehicle), data.arrival_overhead()
        start_node, end_node = data.start_node(vehicle), data.end_node(vehicle)
        first_breaks = [b for b in self.breaks_taken if b.end_min <= self.starts[0]]
        leave = self.starts[0] - int(self.transit[start_node, self.nodes[0]])
        leave -= sum(b.end_min - b.start_min for b in first_breaks)
        leave = max(min([leave, *(b.start_min for b in first_breaks)]), self.therapist.shift_start_min)
        previous, free_at, stops = start_node, leave, []
        for node, start in zip(self.nodes, self.starts, strict=True):
            visit = data.visits[node]
            leg = float(travel[previous, node])
            arrival = min(start - int(overhead[previous, node]), free_at + ceil_min(leg))
            end = start + visit.duration_min
            km = float(data.km[previous, node])
            stops.append(Stop(visit.id, max(arrival, free_at), start, end, leg, km, end + visit.buffer_min))
            previous, free_at = node, end + visit.buffer_min
        placed = list(self.breaks_taken)
        for b in self.pending:
            b_start = max(free_at, b.earliest_start_min)
            placed.append(PlacedBreak(b_start, b_start + b.duration_min))
            free_at = b_start + b.duration_min
        back = free_at + ceil_min(float(travel[previous, end_node]))
        return Route(
            therapist_id=self.therapist.id,
            stops=tuple(stops),
            breaks=tuple(placed),
            start_min=leave,
            end_min=back,
            travel_min=sum(s.travel_min for s in stops) + float(travel[previous, end_node]),
            travel_km=sum(s.travel_km for s in stops) + float(data.km[previous, end_node]),
        )

    def _start_from(self, visit: Visit, ready: int) -> int | None:
        """The first allowed start from ``ready`` on, waiting for the booked time when it is later."""
        wanted = ready
        if visit.pinned_start_min is not None:
            wanted = max(ready, visit.pinned_start_min)
        elif visit.current_start_min is not None:
            wanted = max(ready, visit.current_start_min)
        return first_start_from(visit, wanted)


def transit_matrix(data: ModelData, vehicle: int):
    """``data.time_matrix`` for the vehicle's speed, computed once per model (a re-plan asks often)."""
    speed = data.therapists[vehicle].speed_kmh
    cache = data.__dict__.setdefault("_transit_by_speed", {})
    if speed not in cache:
        cache[speed] = data.time_matrix(speed)
    return cache[speed]


def first_start_from(visit: Visit, minute: int) -> int | None:
    """The earliest start at or after ``minute`` inside one of the visit's windows (None: all closed)."""
    later = [max(minute, w.start_min) for w in visit.windows if w.end_min >= minute]
    return min(later) if later else None


def travel_along(data: ModelData, vehicle: int, nodes: list[int]) -> float:
    travel = data.travel_min(vehicle)
    path = [data.start_node(vehicle), *nodes, data.end_node(vehicle)] if nodes else []
    return float(sum(travel[a, b] for a, b in zip(path, path[1:], strict=False)))


def initial_assignment(
    routing: pywrapcp.RoutingModel,
    manager: pywrapcp.RoutingIndexManager,
    data: ModelData,
    kept: KeptPlan,
) -> tuple[pywrapcp.Assignment | None, dict[str, int]]:
    """The kept routes as an OR-Tools solution, and how many visits OR-Tools refused per therapist.

    The walk is exact for windows, shifts and limits but approximates breaks; when OR-Tools finds
    a route infeasible anyway, its visits are given up from the end of the day (where a delay
    bites) until it is accepted. The model must be closed, with ``one_solution`` limits.
    """
    node_of = {v.id: i for i, v in enumerate(data.visits)}
    routes = [[manager.NodeToIndex(node_of[vid]) for vid in kept.routes.get(t.id, ())] for t in data.therapists]
    assignment = routing.ReadAssignmentFromRoutes(routes, True)  # True: nodes on no route are left out
    refused: dict[str, int] = {}
    if assignment is not None:
        return assignment, refused
    for k, route in enumerate(routes):
        alone = [route if j == k else [] for j in range(len(routes))]
        while route and routing.ReadAssignmentFromRoutes(alone, True) is None:
            route.pop()
            refused[data.therapists[k].id] = refused.get(data.therapists[k].id, 0) + 1
    return routing.ReadAssignmentFromRoutes(routes, True), refused


def one_solution(params: pywrapcp.RoutingSearchParameters) -> pywrapcp.RoutingSearchParameters:
    """``params`` that stop at the first solution: the limits OR-Tools should read given routes back under.

    Why: ``ReadAssignmentFromRoutes`` restores routes under the limits of the model's last solve (or
    of its closing, before any) and with its objective, so once it has a schedule for them it goes on
    branching over every route's times and breaks for a cheaper one until that time limit, whenever
    the routes carry a cost the model cannot prove minimal (a booked visit a lunch pushes beyond the
    move tolerance). A re-plan step then searched only from its wall cap on: the demo's "sick at
    12:00" spent 4.4 s of 4.5 there, for a schedule found in 15 ms and never bettered. The first
    schedule is the one to keep; the search improves on it.
    """
    once = type(params)()
    once.CopyFrom(params)
    once.solution_limit = 1
    return once


def keep_booked_times(routes: list[Route], data: ModelData) -> list[Route]:
    """Put each booked visit as close to its booked start as its route allows (order kept, breaks re-placed).

    The stability cost is flat inside the tolerance, so the solver's schedule may put an
    untouched visit anywhere in it; a coordinator expects it exactly where it was. A route the
    re-timing cannot improve on (or that the independent checker would fault) stays as solved.
    """
    node_of = {v.id: i for i, v in enumerate(data.visits)}
    vehicle_of = {t.id: k for k, t in enumerate(data.therapists)}
    out = []
    for route in routes:
        nodes = [node_of[s.visit_id] for s in route.stops]
        at_booked = zip(nodes, route.stops, strict=True)
        if all(data.visits[n].current_start_min in (None, s.start_min) for n, s in at_booked):
            out.append(route)  # every booked visit is at its booked minute already
            continue
        k = vehicle_of[route.therapist_id]
        retimed = _RouteTimes(data, k, route, nodes).closest_to_booked()
        therapist, visits = data.therapists[k], [data.visits[n] for n in nodes]
        ok = retimed is not None and not check_route(data.problem, therapist, retimed, visits)
        out.append(retimed if ok else route)
    # A route re-timed on its own may move a session onto the same patient's session on another
    # route, which the solver's times kept apart: such a route stays as solved.
    while clashes := {h[0].visit_id for _, *pair in patient_clashes(data.problem, out) for h in pair}:
        guilty = [k for k, (new, old) in enumerate(zip(out, routes, strict=True)) if new is not old and any(
            s.visit_id in clashes for s in new.stops
        )]
        if not guilty:
            break
        out[guilty[0]] = routes[guilty[0]]
    return out


class _RouteTimes:
    """A route's times as a small linear programme: its order kept, its times free.

    The chain is: leave, (breaks), visit, (breaks), visit, ..., (breaks), back home; each break
    stays between the two visits the solver put it between. The objective first minimises the
    minutes booked visits move beyond the tolerance (what the solver paid for), then the minutes
    they move at all, then (a tie-break) the working time. Difference constraints with integer
    data have integral optima, so GLOP's vertex is a plan in whole minutes.
    """

    BEYOND, AWAY, TIE = 1000.0, 1.0, 0.001

    def __init__(self, data: ModelData, vehicle: int, route: Route, nodes: list[int]) -> None:
        self.data, self.vehicle, self.route, self.nodes = data, vehicle, route, nodes
        self.therapist = data.therapists[vehicle]
        self.transit = transit_matrix(data, vehicle)
        # slots[i]: the break rules taken before visit i (i == len(nodes): after the last one).
        self.slots: list[list[Break]] = [[] for _ in range(len(nodes) + 1)]
        rules = sorted(self.therapist.breaks, key=lambda b: b.earliest_start_min)
        starts = [s.start_min for s in route.stops]
        for rule, b in zip(rules, sorted(route.breaks, key=lambda b: b.start_min), strict=False):
            self.slots[sum(1 for start in starts if start < b.start_min)].append(rule)

    def closest_to_booked(self) -> Route | None:
        data, nodes, therapist = self.data, self.nodes, self.therapist
        windows = [self._window(i) for i in range(len(nodes))]
        if any(w is None for w in windows):
            return None
        lp = pywraplp.Solver.CreateSolver("GLOP")
        inf = lp.infinity()
        objective = lp.Objective()

        def var(lo: float, hi: float, cost: float = 0.0):
            x = lp.NumVar(lo, hi, "")
            objective.SetCoefficient(x, cost)
            return x

        def at_least(rhs: float, *terms) -> None:
            """sum(coefficient * variable) >= rhs (the natural API costs ~5x more to build)."""
            row = lp.Constraint(rhs, inf)
            for x, c in terms:
                row.SetCoefficient(x, c)

        leave = var(therapist.shift_start_min, therapist.shift_end_min, -self.TIE)
        back = var(therapist.shift_start_min, therapist.shift_end_min, self.TIE)
        tolerance = data.options.move_tolerance_min
        xs = []
        for (lo, hi), node in zip(windows, nodes, strict=True):
            booked = data.visits[node].current_start_min
            x = var(lo, hi, self.TIE if booked is None else 0.0)
            if booked is not None:
                # late >= x - booked - tolerance, early >= booked - tolerance - x, and the same
                # without the tolerance for the minutes away at all.
                for slack, cost in ((tolerance, self.BEYOND), (0, self.AWAY)):
                    at_least(-booked - slack, (var(0, inf, cost), 1), (x, -1))
                    at_least(booked - slack, (var(0, inf, cost), 1), (x, 1))
            xs.append(x)
        prev_node, prev_start, free, free_offset = data.start_node(self.vehicle), leave, leave, 0
        breaks = []
        for i, slot in enumerate(self.slots):
            node, nxt = (nodes[i], xs[i]) if i < len(nodes) else (data.end_node(self.vehicle), back)
            for b in slot:
                start = var(b.earliest_start_min, b.latest_start_min)
                at_least(free_offset, (start, 1), (free, -1))  # the break starts once the therapist is free
                free, free_offset = start, b.duration_min
                breaks.append((start, b.duration_min))
            at_least(free_offset, (nxt, 1), (free, -1))
            gap = int(self.transit[prev_node, node]) + sum(b.duration_min for b in slot)
            at_least(gap, (nxt, 1), (prev_start, -1))  # travel, check-in and breaks fit in between
            if i < len(nodes):
                prev_node, prev_start, free, free_offset = node, xs[i], xs[i], data.service_min[node]
        if therapist.max_working_min is not None:
            at_least(-therapist.max_working_min, (leave, 1), (back, -1))
        objective.SetMinimization()
        if lp.Solve() != pywraplp.Solver.OPTIMAL:
            return None
        starts = [round(x.solution_value()) for x in xs]
        placed = [PlacedBreak(round(b.solution_value()), round(b.solution_value()) + d) for b, d in breaks]
        return self._route(starts, placed, round(leave.solution_value()), round(back.solution_value()))

    def _window(self, i: int) -> tuple[int, int] | None:
        """The window the solver used for visit ``i`` (a pinned visit: its minute)."""
        visit, start = self.data.visits[self.nodes[i]], self.route.stops[i].start_min
        if visit.pinned_start_min is not None:
            return visit.pinned_start_min, visit.pinned_start_min
        return next(((w.start_min, w.end_min) for w in visit.windows if w.start_min <= start <= w.end_min), None)

    def _route(self, starts: list[int], placed: list[PlacedBreak], leave: int, back: int) -> Route:
        """The route with new times: arrivals and ends recomputed as ``read_routes`` does."""
        data = self.data
        travel, overhead = data.travel_min(self.vehicle), data.arrival_overhead()
        previous, free_at = data.start_node(self.vehicle), leave
        stops = []
        for stop, node, start in zip(self.route.stops, self.nodes, starts, strict=True):
            visit = data.visits[node]
            arrival = min(start - int(overhead[previous, node]), free_at + ceil_min(float(travel[previous, node])))
            end = start + visit.duration_min
            stops.append(
                replace(
                    stop,
                    arrival_min=max(arrival, free_at),
                    start_min=start,
                    end_min=end,
                    buffer_end_min=end + visit.buffer_min,
                )
            )
            previous, free_at = node, end + visit.buffer_min
        return replace(self.route, stops=tuple(stops), breaks=tuple(placed), start_min=leave, end_min=back)
