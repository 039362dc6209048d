"""Plans built or finished outside the search, handed to OR-Tools' own model to accept and time.

``insert_left_out``: a search stopped by its budget is not always at a local optimum, so a visit
it left out may still fit some final route as it stands. Every such visit (the costliest to
leave out first) goes to its cheapest place in the routes of the therapists passing nearest
(``reasons.NEAREST``) by the re-plans' walk; OR-Tools then re-reads the
routes (``ReadAssignmentFromRoutes``), which checks every rule and times the plan, and the
result is kept only when the model accepts it and its objective is lower.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from optimizer.check import check_route
from optimizer.constraints import unassigned_penalty
from optimizer.reasons import Prefixes, best_insertion, nearest_vehicles
from optimizer.warm_start import RouteWalk, one_solution

if TYPE_CHECKING:
    from ortools.constraint_solver import pywrapcp

    from optimizer.model_data import ModelData
    from optimizer.solution import Route


def routes_of(
    routing: pywrapcp.RoutingModel, manager: pywrapcp.RoutingIndexManager, assignment: pywrapcp.Assignment
) -> list[list[int]]:
    """Each vehicle's visit nodes in order."""
    routes = []
    for v in range(routing.vehicles()):
        index, nodes = assignment.Value(routing.NextVar(routing.Start(v))), []
        while not routing.IsEnd(index):
            nodes.append(manager.IndexToNode(index))
            index = assignment.Value(routing.NextVar(index))
        routes.append(nodes)
    return routes


def insert_left_out(
    routing: pywrapcp.RoutingModel,
    manager: pywrapcp.RoutingIndexManager,
    data: ModelData,
    assignment: pywrapcp.Assignment,
    params: pywrapcp.RoutingSearchParameters,
) -> pywrapcp.Assignment:
    """``assignment`` with the left-out visits that fit a final route as it stands put there.

    ``params``: the search's; the read-back runs under the last solve's limits, so ``assignment``
    (a few milliseconds) is read again under ``one_solution`` ones first.
    """
    routes = routes_of(routing, manager, assignment)
    if not fill_routes(data, routes):
        return assignment
    routing.SolveFromAssignmentWithParameters(assignment, one_solution(params))
    indices = [[manager.NodeToIndex(n) for n in r] for r in routes]
    candidate = routing.ReadAssignmentFromRoutes(indices, True)  # True: nodes on no route are left out
    if candidate is None or candidate.ObjectiveValue() >= assignment.ObjectiveValue():
        return assignment
    return candidate


def fill_routes(data: ModelData, routes: list[list[int]]) -> bool:
    """Insert every visit on no route where it fits (costliest to leave out first); whether any was."""
    served = {n for r in routes for n in r}
    left = sorted((n for n in range(data.n_visits) if n not in served), key=lambda n: -unassigned_penalty(data.visits[n], data.options))
    changed = False
    prefixes = {k: Prefixes(data, k, r) for k, r in enumerate(routes)}
    for node in left:
        visit = data.visits[node]
        able = [k for k, t in enumerate(data.therapists) if visit.eligible(t)]
        places = [
            p
            for k in nearest_vehicles(data, dict(enumerate(routes)), node, able)
            if (p := best_insertion(data, k, routes[k], node, prefixes=prefixes[k])) is not None
        ]
        if places:
            best = min(places, key=lambda p: (p.added_travel, p.vehicle))
            routes[best.vehicle].insert(best.position, node)
            prefixes[best.vehicle] = Prefixes(data, best.vehicle, routes[best.vehicle])
            changed = True
    return changed


def constructed_plan(data: ModelData) -> list[Route]:
    """A plan without OR-Tools: ``fill_routes`` from empty routes, timed by the walk, each route
    kept only if the independent checker finds it clean (the walk approximates breaks).

    For when OR-Tools' search found no first plan in its time (a loaded machine, a large day).
    """
    routes: list[list[int]] = [[] for _ in data.therapists]
    fill_routes(data, routes)
    plan = []
    for k, nodes in enumerate(routes):
        walk = RouteWalk(data, k)
        if not nodes or any(walk.add(n) is not None for n in nodes):
            continue
        route = walk.route()
        if not check_route(data.problem, data.therapists[k], route, [data.visits[n] for n in nodes]):
            plan.append(route)
    return plan
