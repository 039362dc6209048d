"""Why each left-out visit is out, tried against the plan as it ended.

A visit some therapist could serve alone is inserted at every place of the final route of each
of the NEAREST such therapists, by the walk re-plans use (``warm_start.RouteWalk``: the model's
own transit matrix, windows, shifts, breaks, visit and working-time limits); where no place
holds, with one visit of that route dropped. The reason names the best candidate: a place that
holds as the route stands, else the cheapest single drop (lowest priority, then least added
travel), else the rule that binds the nearest therapist. A place a reason offers is re-checked
by the independent checker first, so "Therapist X could take it at 14:10" is true of the plan.

Therapists appear as "Therapist <id>" and visits as "visit <id>", so a front end can put
names in (the Django side does).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from optimizer.analysis import fits_alone, hhmm, static_reason
from optimizer.check import check_route
from optimizer.constraints import unassigned_penalty
from optimizer.model_data import ModelData, build_model_data
from optimizer.options import Options
from optimizer.problem import Priority
from optimizer.solution import Unassigned
from optimizer.warm_start import BREAK, LIMIT, PINNED, SHIFT, WINDOW, RouteWalk, travel_along

if TYPE_CHECKING:
    from optimizer.problem import Problem, Therapist, Visit
    from optimizer.solution import Route

NEAREST = 8  # therapists tried per left-out visit, nearest to its place first
NEAREST_DROPS = 4  # of which this many are tried with one of their visits dropped
DROP_REACH_MIN = 60  # visits tried for dropping start within this of the left-out visit's windows

FITS = "Therapist {therapist} has room for it at {at} (+{travel} min of travel); the search stopped before placing it."
DROP = "Therapist {therapist} could take it at {at} only by dropping {dropped}{cost}."
ALSO = " {n} other therapist{s} could likewise, each only by dropping a visit."
FULL = "{skill}{who} {are} full: {binding}."
SKILL = "Needs the {skills} skill{s}, held by {held} therapist{hs}; "
# What stops the nearest full therapist, by the rule the walk met.
BINDING = {
    WINDOW: "Therapist {therapist} has no room in the day before its window closes at {at}",
    SHIFT: "Therapist {therapist} could not be back by the end of the shift at {at}",
    BREAK: "Therapist {therapist} would lose the break due by {at}",
    PINNED: "Therapist {therapist} cannot start it at its pinned time {at}",
    LIMIT: "Therapist {therapist} is at the limit of visits or working time",
}
PATIENT_BUSY = "The patient is in visit {other} with Therapist {therapist} at {at} at every time its windows allow."
UNCHECKED = "Therapist {therapist} has no place for it that keeps every rule, its break included"
PUSHES = "Therapist {therapist} would push visit {later} past {what}"
PUSHED = {WINDOW: "its window", SHIFT: "the shift's end", BREAK: "the break", PINNED: "its pinned time", LIMIT: "a limit"}


@dataclass(frozen=True)
class Place:
    """``node`` fits ``vehicle``'s route at ``position`` (after dropping ``dropped``), starting at ``start``."""

    vehicle: int
    position: int
    start: int
    added_travel: float
    dropped: int | None = None


def explain_unassigned(problem: Problem, routes: list[Route], data: ModelData | None = None) -> list[Unassigned]:
    """A reason for every visit of ``problem`` no route serves, as the routes stand.

    ``data`` is the solve's model data when there is one (its nodes, matrices and weights);
    otherwise it is built for all visits with the default options.
    """
    served = {s.visit_id for r in routes for s in r.stops}
    left = [v for v in problem.visits if v.id not in served]
    if not left:
        return []
    static = {v.id: static_reason(problem, v) for v in left}
    modelled = set() if data is None else {v.id for v in data.visits}
    if data is None or any(static[v.id] is None and v.id not in modelled for v in left):
        data = build_model_data(problem, data.options if data else Options(), list(problem.visits))
    plan = _Plan(problem, data, routes)
    return [static[v.id] or plan.reason(v) for v in left]


class _Plan:
    def __init__(self, problem: Problem, data: ModelData, routes: list[Route]) -> None:
        self.problem, self.data = problem, data
        self.node_of = {v.id: i for i, v in enumerate(data.visits)}
        vehicle_of = {t.id: k for k, t in enumerate(data.therapists)}
        self.routes: dict[int, list[int]] = {k: [] for k in range(len(data.therapists))}
        self.timed: dict[int, Route] = {}
        self.prefixes: dict[int, Prefixes] = {}
        for r in routes:
            k = vehicle_of[r.therapist_id]
            self.routes[k] = [self.node_of[s.visit_id] for s in r.stops]
            self.timed[k] = r
        patient_of = {v.id: v.patient_id for v in problem.visits if v.patient_id is not None}
        # A patient's sessions on the plan: a place that overlaps one is no place for a sibling visit.
        self.sessions: dict[str, list[tuple[int, int, str, str]]] = {}
        for r in routes:
            for s in r.stops:
                if s.visit_id in patient_of:
                    self.sessions.setdefault(patient_of[s.visit_id], []).append(
                        (s.start_min, s.end_min, s.visit_id, r.therapist_id)
                    )

    def _patient_busy(self, visit: Visit, start: int, dropped: int | None = None) -> tuple[int, int, str, str] | None:
        """The session of the same patient that a start at ``start`` would overlap, if any."""
        if visit.patient_id is None:
            return None
        gone = None if dropped is None else self.data.visits[dropped].id
        return next(
            (
                held
                for held in self.sessions.get(visit.patient_id, ())
                if held[2] not in (visit.id, gone) and start < held[1] and held[0] < start + visit.duration_min
            ),
            None,
        )

    def _patient_reason(self, visit: Visit) -> Unassigned | None:
        """When the patient's other sessions cover every start the windows allow, that is the reason."""
        if visit.patient_id is None or visit.patient_id not in self.sessions:
            return None
        busy = None
        for w in visit.windows:
            ends = [held[1] for held in self.sessions[visit.patient_id] if w.start_min <= held[1] <= w.end_min]
            for start in (w.start_min, *ends):
                busy = self._patient_busy(visit, start)
                if busy is None:
                    return None
        assert busy is not None
        text = PATIENT_BUSY.format(other=busy[2], therapist=busy[3], at=hhmm(busy[0]))
        return Unassigned(visit.id, "displaced", text)

    def reason(self, visit: Visit) -> Unassigned:
        data, node = self.data, self.node_of[visit.id]
        if (busy := self._patient_reason(visit)) is not None:
            return busy
        able = [k for k, t in enumerate(data.therapists) if fits_alone(self.problem, visit, t)]
        nearest = nearest_vehicles(data, self.routes, node, able)
        fits = [p for k in nearest if (p := self._best_insertion(k, self.routes[k], node)) is not None]
        fits = [p for p in fits if self._checked(p, node)]
        if fits:
            best = min(fits, key=lambda p: (p.added_travel, p.vehicle))
            text = FITS.format(
                therapist=self._tid(best), at=hhmm(best.start), travel=round(max(best.added_travel, 0.0))
            )
            return Unassigned(visit.id, "displaced", text, self._tid(best), best.start)
        drops = [p for k in nearest[:NEAREST_DROPS] if (p := self._best_drop(k, node)) is not None]
        drops = sorted(drops, key=lambda p: (self._penalty(p.dropped), p.added_travel, p.vehicle))
        checked = next((p for p in drops if self._checked(p, node)), None)
        if checked is not None:
            return self._drop_reason(visit, checked, len(drops) - 1)
        return Unassigned(visit.id, "displaced", self._full(visit, nearest, len(able), node))

    def _drop_reason(self, visit: Visit, place: Place, others: int) -> Unassigned:
        dropped = self.data.visits[place.dropped]
        timed = self.timed[place.vehicle]
        at = next(s.start_min for s in timed.stops if s.visit_id == dropped.id)
        what = f"visit {dropped.id} ({Priority(dropped.priority).name.lower()}, {hhmm(at)})"
        cost = ""
        if self._penalty(place.dropped) >= self._penalty(self.node_of[visit.id]) and place.added_travel >= 1:
            cost = f", which would add {round(place.added_travel)} min of travel"
        text = DROP.format(therapist=self._tid(place), at=hhmm(place.start), dropped=what, cost=cost)
        if others:
            text += ALSO.format(n=others, s="s" if others > 1 else "")
        return Unassigned(visit.id, "displaced", text, self._tid(place), place.start, (dropped.id,))

    def _full(self, visit: Visit, nearest: list[int], able: int, node: int) -> str:
        skill = ""
        if visit.required_skills:
            held = sum(1 for t in self.data.therapists if visit.required_skills <= t.skills)
            skills = ", ".join(sorted(visit.required_skills))
            skill = SKILL.format(
                skills=skills, s="s" if len(visit.required_skills) > 1 else "", held=held, hs="s" if held > 1 else ""
            )
        if len(nearest) == able:
            who = {1: "the one therapist who could reach it in time", 2: "both who could reach it in time"}.get(
                able, f"all {able} therapists who could reach it in time"
            )
        else:
            who = f"the {len(nearest)} nearest of the {able} therapists who could reach it in time"
        who = who if skill else who[0].upper() + who[1:]
        binding = self._binding(nearest[0], node)
        return FULL.format(skill=skill, who=who, are="is" if able == 1 else "are", binding=binding)

    def _binding(self, vehicle: int, node: int) -> str:
        """The rule the insertion that got furthest meets on ``vehicle``'s route, in words."""
        route, tid = self.routes[vehicle], self.data.therapists[vehicle].id
        furthest = None
        for p in range(len(route) + 1):
            walk, sequence = RouteWalk(self.data, vehicle), [*route[:p], node, *route[p:]]
            for i, n in enumerate(sequence):
                broken = walk.add(n)
                if broken is not None:
                    if furthest is None or i > furthest[0]:
                        furthest = (i, n, broken)
                    break
        if furthest is None:  # the walk found a place the independent checker refused (breaks)
            return UNCHECKED.format(therapist=tid)
        _, failed, (rule, at) = furthest
        if failed != node:
            return PUSHES.format(therapist=tid, later=self.data.visits[failed].id, what=PUSHED[rule])
        return BINDING[rule].format(therapist=tid, at="" if at is None else hhmm(at))

    def _best_insertion(
        self, vehicle: int, route: list[int], node: int, dropped: int | None = None, near: int | None = None
    ) -> Place | None:
        """The place in ``route`` where ``node`` fits adding the least travel, or None."""
        full = self._prefixes(vehicle)
        prefixes = full if near is None else Prefixes(self.data, vehicle, route, full, near)
        return best_insertion(self.data, vehicle, route, node, dropped, self.routes[vehicle], near, prefixes)

    def _prefixes(self, vehicle: int) -> Prefixes:
        if vehicle not in self.prefixes:
            self.prefixes[vehicle] = Prefixes(self.data, vehicle, self.routes[vehicle])
        return self.prefixes[vehicle]

    def _best_drop(self, vehicle: int, node: int) -> Place | None:
        """The cheapest place for ``node`` where one visit leaves ``vehicle``'s route (next to it)."""
        route, visit = self.routes[vehicle], self.data.visits[node]
        earliest = min(w.start_min for w in visit.windows) - DROP_REACH_MIN
        latest = max(w.end_min for w in visit.windows) + DROP_REACH_MIN
        starts = [s.start_min for s in self.timed[vehicle].stops] if route else []
        places = [
            p
            for q, dropped in enumerate(route)
            if earliest <= starts[q] <= latest
            and (p := self._best_insertion(vehicle, route[:q] + route[q + 1 :], node, dropped, q)) is not None
        ]
        return min(places, key=lambda p: (self._penalty(p.dropped), p.added_travel), default=None)

    def _checked(self, place: Place, node: int) -> bool:
        """Whether the independent checker finds the changed route clean (the walk approximates breaks)."""
        route = [n for n in self.routes[place.vehicle] if n != place.dropped]
        sequence = [*route[: place.position], node, *route[place.position :]]
        if self._patient_busy(self.data.visits[node], place.start, place.dropped) is not None:
            return False
        walk = _extended(RouteWalk(self.data, place.vehicle), sequence)
        if not walk:
            return False
        therapist: Therapist = self.data.therapists[place.vehicle]
        visits = [self.data.visits[n] for n in sequence]
        return not check_route(self.problem, therapist, walk.route(), visits)

    def _penalty(self, node: int) -> float:
        return unassigned_penalty(self.data.visits[node], self.data.options)

    def _tid(self, place: Place) -> str:
        return self.data.therapists[place.vehicle].id


def nearest_vehicles(
    data: ModelData, routes: Mapping[int, list[int]], node: int, vehicles: list[int], count: int = NEAREST
) -> list[int]:
    """The ``count`` of ``vehicles`` whose start or route passes nearest to ``node`` (travel minutes)."""
    if len(vehicles) <= count:
        return sorted(vehicles)
    places = [[data.start_node(k), *routes[k]] for k in vehicles]
    offsets = np.cumsum([0, *(len(p) for p in places[:-1])])
    flat = np.fromiter((n for p in places for n in p), dtype=np.int64)
    distance = np.empty(len(vehicles))
    speeds = np.array([data.therapists[k].speed_kmh for k in vehicles])
    for speed in np.unique(speeds):
        column = data.travel_min_by_speed[float(speed)][flat, node]
        nearest = np.minimum.reduceat(column, offsets)
        distance[speeds == speed] = nearest[speeds == speed]
    order = np.lexsort((np.array(vehicles), distance))[:count]
    return [vehicles[i] for i in order]


class Prefixes:
    """The walks of ``route[:p]`` for every ``p``, each computed once; ``at`` hands out copies.

    A route with one visit dropped shares its walks up to the dropped one with the full route's
    (``shared``, ``same``: the first positions that agree).
    """

    def __init__(
        self, data: ModelData, vehicle: int, route: list[int], shared: Prefixes | None = None, same: int = 0
    ) -> None:
        self.route = route
        self.walks: list[RouteWalk] = [] if shared is None else shared.walks[: same + 1]
        if not self.walks:
            self.walks.append(RouteWalk(data, vehicle))
        self.broken = False

    def at(self, position: int) -> RouteWalk | None:
        """A copy of the walk of ``route[:position]``, or None when that prefix breaks a rule."""
        while len(self.walks) <= position and not self.broken:
            walk = self.walks[-1].copy()
            self.broken = walk.add(self.route[len(self.walks) - 1]) is not None
            if not self.broken:
                self.walks.append(walk)
        return self.walks[position].copy() if position < len(self.walks) else None


def _extended(walk: RouteWalk, nodes: list[int]) -> RouteWalk | None:
    """``walk`` with ``nodes`` added in order, or None when one breaks a rule."""
    for n in nodes:
        if walk.add(n) is not None:
            return None
    return walk


def best_insertion(
    data: ModelData,
    vehicle: int,
    route: list[int],
    node: int,
    dropped: int | None = None,
    planned: list[int] | None = None,
    near: int | None = None,
    prefixes: Prefixes | None = None,
) -> Place | None:
    """The place in ``route`` where ``node`` fits, every visit of it kept, adding the least travel
    (against ``planned``, the route before ``dropped`` left it; ``route`` itself by default), or None.

    ``near``: only the places next to that position (where a dropped visit was) are tried.
    ``prefixes``: the route's walks when the caller keeps them across calls.
    """
    therapist, visit = data.therapists[vehicle], data.visits[node]
    if therapist.max_visits is not None and len(route) >= therapist.max_visits:
        return None
    alone: list[RouteWalk | None] = []  # the route walked without the visit, once needed
    latest = max(w.end_min for w in visit.windows)
    before = travel_along(data, vehicle, route if planned is None else planned)
    prefixes = prefixes or Prefixes(data, vehicle, route)
    best = None
    positions = range(len(route) + 1) if near is None else range(max(near - 1, 0), min(near + 1, len(route)) + 1)
    for position in positions:
        walk = prefixes.at(position)
        if walk is None or (walk.starts and walk.starts[-1] > latest):
            break  # starts only grow along the route: no later place opens before the window closes
        if walk.add(node) is not None or not _rest_fits(walk, route, position, alone):
            continue
        added = travel_along(data, vehicle, [*route[:position], node, *route[position:]]) - before
        if best is None or added < best.added_travel:
            best = Place(vehicle, position, walk.starts[position], added, dropped)
    return best


def _rest_fits(walk: RouteWalk, route: list[int], position: int, alone: list[RouteWalk | None]) -> bool:
    """Whether the visits after ``position`` still fit once ``walk`` holds the inserted one.

    Once a visit starts when it did without the insertion, with the same breaks still owed, the
    rest of the route is served exactly as before (the walk is earliest-start), so it fits.
    Inserting first changes the leaving time, so then the whole rest is walked.
    """
    for i in range(position, len(route)):
        if walk.add(route[i]) is not None:
            return False
        if not position:
            continue
        if not alone:
            alone.append(_extended(RouteWalk(walk.data, walk.vehicle), route))
        same = alone[0] is not None and walk.starts[-1] == alone[0].starts[i]
        if same and len(walk.pending) == alone[0].pending_after[i]:
            return True
    return True


def cheapest_insertion(data: ModelData, vehicle: int, route: list[int], node: int) -> float | None:
    """Travel added by the cheapest place for ``node`` in ``route`` that keeps every visit, or None."""
    place = best_insertion(data, vehicle, route, node)
    return None if place is None else place.added_travel
