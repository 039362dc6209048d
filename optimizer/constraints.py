"""One function per business rule, each adding itself to an OR-Tools routing model."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from optimizer.model_data import COST_SCALE, ModelData

if TYPE_CHECKING:
    from ortools.constraint_solver import pywrapcp

    from optimizer.options import Options
    from optimizer.problem import Visit

TIME = "Time"


# Hard constraints


def add_travel_time(routing: pywrapcp.RoutingModel, manager: pywrapcp.RoutingIndexManager, data: ModelData) -> None:
    """Hard constraint: a visit starts after the previous one, its buffer, the travel and check-in."""
    by_speed = {
        speed: routing.RegisterTransitMatrix(data.time_matrix(speed).tolist()) for speed in data.travel_min_by_speed
    }
    horizon = data.problem.horizon_min
    if len(by_speed) == 1:
        # One transit for all keeps the search's fast homogeneous paths.
        routing.AddDimension(
            next(iter(by_speed.values())),
            horizon,  # allow waiting time
            horizon,  # no route runs past the horizon
            False,  # routes start at their shift, not at 0
            TIME,
        )
        return
    routing.AddDimensionWithVehicleTransits(
        [by_speed[t.speed_kmh] for t in data.therapists],
        horizon,  # allow waiting time
        horizon,  # no route runs past the horizon
        False,  # routes start at their shift, not at 0
        TIME,
    )


def add_time_windows(routing: pywrapcp.RoutingModel, manager: pywrapcp.RoutingIndexManager, data: ModelData) -> None:
    """Hard constraint: a visit starts inside one of its windows (gaps between windows removed)."""
    time = routing.GetDimensionOrDie(TIME)
    for node, visit in enumerate(data.visits):
        windows = sorted(visit.windows, key=lambda w: w.start_min)
        cumul = time.CumulVar(manager.NodeToIndex(node))
        cumul.SetRange(windows[0].start_min, windows[-1].end_min)
        for before, after in zip(windows, windows[1:], strict=False):
            if after.start_min - before.end_min > 1:
                cumul.RemoveInterval(before.end_min + 1, after.start_min - 1)


def add_shifts(routing: pywrapcp.RoutingModel, manager: pywrapcp.RoutingIndexManager, data: ModelData) -> None:
    """Hard constraint: a therapist leaves no earlier than the shift start and is back by its end."""
    time = routing.GetDimensionOrDie(TIME)
    for v, therapist in enumerate(data.therapists):
        for index in (routing.Start(v), routing.End(v)):
            time.CumulVar(index).SetRange(therapist.shift_start_min, therapist.shift_end_min)
        # Leave as late and finish as early as the plan allows, so working time is not padded.
        routing.AddVariableMaximizedByFinalizer(time.CumulVar(routing.Start(v)))
        routing.AddVariableMinimizedByFinalizer(time.CumulVar(routing.End(v)))


def add_breaks(routing: pywrapcp.RoutingModel, manager: pywrapcp.RoutingIndexManager, data: ModelData) -> list:
    """Hard constraint: every break is taken inside its start range, never during a visit."""
    time = routing.GetDimensionOrDie(TIME)
    solver = routing.solver()
    # A break may interrupt travel or waiting but not the service (duration + buffer) at a node.
    node_visit_transits = [data.service_min[manager.IndexToNode(i)] for i in range(routing.Size())]
    node_visit_transits += [0] * (routing.Size() + routing.vehicles() - len(node_visit_transits))
    intervals = []
    for v, therapist in enumerate(data.therapists):
        if not therapist.breaks:
            continue
        vehicle_breaks = [
            solver.FixedDurationIntervalVar(
                b.earliest_start_min,
                b.latest_start_min,
                b.duration_min,
                False,  # the break is not optional
                f"break {v} {k}",
            )
            for k, b in enumerate(therapist.breaks)
        ]
        time.SetBreakIntervalsOfVehicle(vehicle_breaks, v, node_visit_transits)
        for interval in vehicle_breaks:
            routing.AddIntervalToAssignment(interval)
        intervals += vehicle_breaks
    return intervals


def add_eligibility(routing: pywrapcp.RoutingModel, manager: pywrapcp.RoutingIndexManager, data: ModelData) -> None:
    """Hard constraint: skills, allowed and forbidden therapists and pinning decide who may serve."""
    vehicles = range(len(data.therapists))
    for node, visit in enumerate(data.visits):
        allowed = [v for v in vehicles if visit.eligible(data.therapists[v])]
        # Visits nobody may serve are kept out of the model: an empty list would mean "anyone".
        assert allowed, f"visit {visit.id} has no eligible therapist and should not be modelled"
        if len(allowed) < len(data.therapists):
            # -1 keeps "left out" possible.
            routing.VehicleVar(manager.NodeToIndex(node)).SetValues([-1, *allowed])


def add_pinned_starts(routing: pywrapcp.RoutingModel, manager: pywrapcp.RoutingIndexManager, data: ModelData) -> None:
    """Hard constraint: a visit with a pinned start begins exactly then."""
    time = routing.GetDimensionOrDie(TIME)
    for node, visit in enumerate(data.visits):
        if visit.pinned_start_min is not None:
            time.CumulVar(manager.NodeToIndex(node)).SetValue(visit.pinned_start_min)


def add_max_visits(routing: pywrapcp.RoutingModel, manager: pywrapcp.RoutingIndexManager, data: ModelData) -> None:
    """Hard constraint: a therapist serves at most ``max_visits`` visits."""
    limits = [t.max_visits for t in data.therapists]
    if all(limit is None for limit in limits):
        return
    ones = routing.RegisterUnaryTransitVector([1] * data.n_visits + [0] * (2 * len(data.therapists)))
    routing.AddDimensionWithVehicleCapacity(
        ones,
        0,  # no slack
        [data.n_visits if limit is None else limit for limit in limits],
        True,  # count from zero
        "Visits",
    )


def add_capacity(routing: pywrapcp.RoutingModel, manager: pywrapcp.RoutingIndexManager, data: ModelData) -> None:
    """Hard constraint: the demand served on a route fits the therapist's capacity."""
    demands = [v.demand for v in data.visits]
    if not any(demands) and all(t.capacity is None for t in data.therapists):
        return
    demand = routing.RegisterUnaryTransitVector(demands + [0] * (2 * len(data.therapists)))
    total = sum(demands)
    routing.AddDimensionWithVehicleCapacity(
        demand,
        0,  # no slack
        [total if t.capacity is None else t.capacity for t in data.therapists],
        True,  # start empty
        "Capacity",
    )


def add_max_working_time(
    routing: pywrapcp.RoutingModel, manager: pywrapcp.RoutingIndexManager, data: ModelData
) -> None:
    """Hard constraint: from leaving to coming back takes at most ``max_working_min``."""
    time = routing.GetDimensionOrDie(TIME)
    for v, therapist in enumerate(data.therapists):
        if therapist.max_working_min is not None:
            time.SetSpanUpperBoundForVehicle(therapist.max_working_min, v)


def add_patient_sessions(
    routing: pywrapcp.RoutingModel, manager: pywrapcp.RoutingIndexManager, data: ModelData
) -> None:
    """Hard constraint: one patient's sessions never overlap, whoever serves them (buffers aside)."""
    by_patient: dict[str, list[int]] = {}
    for node, visit in enumerate(data.visits):
        if visit.patient_id is not None:
            by_patient.setdefault(visit.patient_id, []).append(node)
    groups = [nodes for nodes in by_patient.values() if len(nodes) > 1]
    if not groups:
        return  # the usual day: the model is exactly the one without this rule
    time = routing.GetDimensionOrDie(TIME)
    solver = routing.solver()
    for nodes in groups:
        # The cumul is the session's start (the check-in is paid before it, the buffer after it);
        # a visit left out is not performed, so it holds no time.
        sessions = []
        for node in nodes:
            index = manager.NodeToIndex(node)
            sessions.append(
                solver.FixedDurationIntervalVar(
                    time.CumulVar(index),
                    data.visits[node].duration_min,
                    routing.ActiveVar(index),
                    f"patient session {node}",
                )
            )
        solver.Add(solver.DisjunctiveConstraint(sessions, f"patient {data.visits[nodes[0]].patient_id}"))


# Soft constraints


def add_travel_cost(routing: pywrapcp.RoutingModel, manager: pywrapcp.RoutingIndexManager, data: ModelData) -> None:
    """Soft constraint: travel costs (minutes times the therapist's cost weight, plus km).

    Soft constraint: serving a visit that has preferred therapists with someone else costs
    ``continuity_cost``; serving a booked visit with another therapist than its current one
    costs ``reassign_cost`` (see ``add_plan_stability``). All live in one arc cost per vehicle
    class so the search stays in C++.
    """
    with_preferences = [(i, v.preferred_therapists) for i, v in enumerate(data.visits) if v.preferred_therapists]
    base: dict[tuple[float, float], np.ndarray] = {}  # travel cost per (speed, cost weight), built once
    classes: dict[tuple, int] = {}
    booked = booked_nodes(data)
    for v, therapist in enumerate(data.therapists):
        outsider = tuple(i for i, p in with_preferences if therapist.id not in p)
        reassigned = tuple(i for i, current in booked if current != therapist.id)
        speed_weight = (therapist.speed_kmh, therapist.cost_weight)
        key = (*speed_weight, outsider, reassigned)
        if key not in classes:
            if speed_weight not in base:
                base[speed_weight] = _cost_matrix(data, v)
            cost = base[speed_weight]
            if outsider or reassigned:
                cost = cost.copy()
                cost[:, list(outsider)] += round(data.options.continuity_cost * COST_SCALE)
                cost[:, list(reassigned)] += round(data.options.reassign_cost * COST_SCALE)
            classes[key] = routing.RegisterTransitMatrix(cost.tolist())
        routing.SetArcCostEvaluatorOfVehicle(classes[key], v)
    if len(classes) == 1:
        routing.SetArcCostEvaluatorOfAllVehicles(next(iter(classes.values())))


def _cost_matrix(data: ModelData, vehicle: int) -> np.ndarray:
    """Travel cost of ``vehicle`` in hundredths of a travel minute, continuity aside."""
    options = data.options
    minutes = data.travel_min(vehicle) * data.therapists[vehicle].cost_weight
    cost = (options.travel_min_weight * minutes + options.travel_km_weight * data.km) * COST_SCALE
    return np.rint(cost).astype(np.int64)


def add_unassigned_penalties(
    routing: pywrapcp.RoutingModel, manager: pywrapcp.RoutingIndexManager, data: ModelData
) -> None:
    """Soft constraint: leaving a visit out costs its priority's penalty, so urgent ones stay."""
    for node, visit in enumerate(data.visits):
        routing.AddDisjunction([manager.NodeToIndex(node)], round(unassigned_penalty(visit, data.options) * COST_SCALE))


def unassigned_penalty(visit: Visit, options: Options) -> float:
    """What leaving ``visit`` out costs, in travel minutes."""
    penalty = options.penalty(visit.priority)
    if visit.pinned_therapist is not None or visit.pinned_start_min is not None:
        penalty *= 10  # pinned work was promised; drop it only if it cannot be done
    return penalty + unbook_cost(visit, options)


# Soft constraints of a re-plan: the current plan is what patients, facilities and therapists
# were told; every change to it has a price (weights and their reasons in ``Options``).


def add_plan_stability(
    routing: pywrapcp.RoutingModel, manager: pywrapcp.RoutingIndexManager, data: ModelData
) -> None:
    """Soft constraint: a booked visit that starts more than the tolerance from its booked time pays per minute.

    Reassigning a booked visit is priced in the arc costs (``add_travel_cost``) and unbooking it
    in its disjunction (``add_unassigned_penalties``), each through the helpers below. Inside the
    tolerance a move is free here; ``warm_start.keep_booked_times`` then brings the start back
    as close to the booked one as the route allows, which a cost band alone cannot ask of the
    solver's schedule.
    """
    options = data.options
    per_min = round(options.move_cost_per_min * COST_SCALE)
    if per_min == 0:
        return
    time = routing.GetDimensionOrDie(TIME)
    for node, visit in enumerate(data.visits):
        if visit.current_start_min is None:
            continue
        index = manager.NodeToIndex(node)
        time.SetCumulVarSoftUpperBound(index, visit.current_start_min + options.move_tolerance_min, per_min)
        time.SetCumulVarSoftLowerBound(index, max(visit.current_start_min - options.move_tolerance_min, 0), per_min)


def booked_nodes(data: ModelData) -> list[tuple[int, str]]:
    """``(node, current therapist)`` of every booked visit: serving it with anyone else is a reassignment."""
    return [(node, v.current_therapist) for node, v in enumerate(data.visits) if v.current_therapist is not None]


def unbook_cost(visit: Visit, options: Options) -> float:
    """What leaving a booked visit out costs on top of its priority's penalty (nothing for a request)."""
    return options.unbook_cost if visit.booked else 0.0


HARD_CONSTRAINTS = (
    add_travel_time,
    add_time_windows,
    add_shifts,
    add_eligibility,
    add_pinned_starts,
    add_max_visits,
    add_capacity,
    add_max_working_time,
    add_patient_sessions,
)
SOFT_CONSTRAINTS = (add_travel_cost, add_unassigned_penalties, add_plan_stability)
