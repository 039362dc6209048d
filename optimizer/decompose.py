"""Large day plans as regions solved side by side, then mended across the regions' borders.

One routing model for 2,000 visits and 200 therapists does not fit a minute: its build (one arc-cost
matrix per therapist class over every node) took 189 s and OR-Tools' read-back of a plan 141 s
(``benchmarks/RESULTS.md``, "Scale"). Both grow with the square of the nodes, so a day above
``DECOMPOSE_ABOVE`` visits is cut into regions of about ``REGION_VISITS`` visits or fewer, a size
the model plans in seconds (the 250-visit day builds in ~0.1 s and finds its first plan in ~0.55 s):

1. ``regions``: the visits split by recursive coordinate bisection (each cut along the wider
   side, at the visit count that keeps the parts equal), visits at one site kept together so
   they keep their shared check-in (a site busier than a region in region-sized parts), and one
   patient's visits kept together so one model keeps the patient's sessions apart;
2. ``allot_therapists``: each region gets therapists, nearest home first, until their working
   minutes cover its work, urgent work first, then "soon", then routine, so capacity follows
   priority when the day is overbooked; a visit whose region has nobody able to serve it (skills,
   credentials, pins, reach within its window) moves to the nearest region that has someone;
3. every region is solved by ``solve`` itself (``decompose=False``: one model each), in
   processes (``portfolio.solve_each``);
4. ``mend``: the routes merged, each left-out visit offered to the therapists passing nearest
   to it across every border (``construction.fill_routes``: the routes kept as they are, the visit
   put where it adds least travel); an urgent visit still out then replaces a lower-priority one
   on a nearby route (the reasons' drop search), and what that leaves out is offered again; each
   changed route is re-timed by the re-plans' walk and kept only when the independent checker
   finds it clean;
5. the reasons and KPIs of the whole day, as ``solve`` gives them.

Re-plans never come here (their warm start and booking costs need the whole current plan in one
model), and neither does a day at or below the threshold: ``solve`` takes its usual path.
"""

from __future__ import annotations

import math
import multiprocessing
import time as clock
from collections.abc import Callable, Sequence
from dataclasses import replace

from optimizer.analysis import fits_alone
from optimizer.check import check_route, patient_clashes
from optimizer.construction import fill_routes
from optimizer.constraints import unassigned_penalty
from optimizer.model_data import COST_SCALE, ModelData, build_model_data
from optimizer.options import Options
from optimizer.reasons import NEAREST_DROPS, _Plan, nearest_vehicles
from optimizer.problem import Location, Priority, Problem, Therapist, Visit
from optimizer.solution import STOPS_BY_REPRODUCIBILITY, Route, Solution
from optimizer.warm_start import RouteWalk

# Above this many modelled visits a day plan is decomposed. The one model is what the 250-visit
# benchmarks were tuned on, and it grows with the square of the visits (at 2,000 its build alone
# took 189 s). Measured at 15 s, deterministic, on the generator's days (RESULTS.md, "Scale" and
# "opt17"): at 350 visits two regions cost 11-14 % less than the one model on each of 3 seeds in two
# processes and 6-11 % less in one, in 10-21 s where the one model took 21-43 s (seed 2 ran to the
# 300 s cap in both); at 250 they win in one process on 5 of 5 seeds but lose to the
# two-process portfolio on 2 of 5. 300 puts the 350-visit day in regions and leaves every day up to
# 300 visits, the 250-visit day among them, and every re-plan on the one model.
DECOMPOSE_ABOVE = 300
# Smaller regions search faster per visit and lose more at their borders. Measured (RESULTS.md):
# at 2,000 visits, 60 s, regions of 125 / 167 / 250 / 333 visits cost 682k / 677k / 678k / 706k
# (travel plus penalties); at 500 visits, 15 s, deterministic, regions of 125 beat those of 250
# on each of 3 seeds, and regions of 83 drove least but left an urgent visit out.
REGION_VISITS = 170
# Minutes a visit is assumed to cost beyond its session (travel, check-in) when sizing a region's work.
TRAVEL_ALLOWANCE_MIN = 15
# The share of the call's time kept for merging, mending and the whole day's reasons.
MEND_SHARE = 0.12


def should_decompose(problem: Problem, modelled: Sequence[Visit]) -> bool:
    """A day plan (nothing booked) with more than ``DECOMPOSE_ABOVE`` visits worth modelling."""
    return len(modelled) > DECOMPOSE_ABOVE and not any(v.booked for v in problem.visits)


def solve_decomposed(
    problem: Problem,
    modelled: Sequence[Visit],
    options: Options,
    started: float,
    *,
    region_visits: int | None = None,
    processes: int = 2,
    progress: Callable[[float, int, int, float], None] | None = None,
) -> Solution:
    """Plan a large day region by region (see the module's docstring); ``started``: the call's start.

    The time limit covers the whole call as in ``solve``: each round of ``processes`` regions
    gets an equal share of what is left after ``MEND_SHARE``. In deterministic mode every region
    runs on its own solution budget (sized by that share), so the plan is reproducible when every
    region stopped by its budget (``stopped_by`` is the least reproducible region's); the safety
    cap stops a region only when the regions' part of the whole call's cap runs out.
    """
    from optimizer.portfolio import solve_each
    from optimizer.solve import _result

    if multiprocessing.parent_process() is not None:
        processes = 1  # inside a portfolio's worker already: the other core is taken
    parts = regions(modelled, region_visits or REGION_VISITS, processes)
    allotted = allot_therapists(problem, parts)
    jobs = [(sub, options) for sub in (_sub_problem(problem, t, v) for t, v in allotted) if sub.visits]
    rounds = math.ceil(len(jobs) / processes)
    spent = clock.monotonic() - started
    share = (1 - MEND_SHARE) / rounds
    sub_options = replace(
        options,
        time_limit_s=max(share * (options.time_limit_s - spent), 0.1),
        wall_cap_s=max(share * (options.wall_limit_s - spent), 0.1) if options.deterministic else None,
        processes=1,  # the regions take the cores
    )
    # Deterministic mode: regions differ in how fast they reach their budgets (1.1-2.5 times their
    # share, measured on one loaded day), so rather than a fixed share of the safety cap each,
    # a region may run until the cap's end for the regions, less the nominal time of the rounds
    # still to come after it; a slow region then takes the slack a fast one left.
    regions_end = started + spent + (1 - MEND_SHARE) * (options.wall_limit_s - spent)
    deadlines = [regions_end - (rounds - 1 - k // processes) * sub_options.time_limit_s for k in range(len(jobs))]
    solutions = solve_each(
        [(sub, sub_options) for sub, _ in jobs], processes=processes, deadlines=deadlines, decompose=False
    )
    routes = [r for s in solutions for r in s.routes]
    data = build_model_data(problem, options, list(modelled))
    if progress is not None:
        progress(clock.monotonic() - started, plan_objective(data, routes), *_totals(routes))
    routes = mend(data, routes)
    stops = [s.stopped_by for s in solutions if s.stopped_by is not None]
    stopped_by = min(stops, key=STOPS_BY_REPRODUCIBILITY.index) if stops else None
    if stopped_by == "optimal":
        stopped_by = "completed"  # each region optimal is not the whole day optimal
    # As the one model: "no_solution" only when no search found a plan (every region's said so).
    status = "feasible" if routes or any(s.is_feasible() for s in solutions) else "no_solution"
    result = _result(problem, routes, status, 0, started, stopped_by, data)
    return replace(result, objective=plan_objective(data, routes))


def regions(visits: Sequence[Visit], region_visits: int, processes: int = 1) -> list[list[Visit]]:
    """The visits in geographic regions of about ``region_visits`` each, a multiple of ``processes``
    of them (so the rounds of parallel solves are full); visits at one site stay together."""
    count = processes * max(1, math.ceil(len(visits) / (processes * region_visits)))
    sites: dict[str, list[Visit]] = {}
    for v in visits:
        sites.setdefault(_unit_key(v), []).append(v)
    sites = _with_patients_together(sites)
    # A site busier than a region (a large facility) is split, or its region would be the one model
    # at the size this module exists to avoid.
    units = [site[k : k + region_visits] for site in sites.values() for k in range(0, len(site), region_visits)]
    return [[v for unit in part for v in unit] for part in _bisect(units, count)]


def _unit_key(v: Visit) -> str:
    return v.site_id if v.site_id is not None else f"visit {v.id}"


def _with_patients_together(sites: dict[str, list[Visit]]) -> dict[str, list[Visit]]:
    """``sites`` with the units holding one patient's visits merged, so one region's model keeps
    the patient's sessions apart (two regions would each plan the patient at 10:00)."""
    units_of: dict[str, list[str]] = {}
    for key, unit in sites.items():
        for v in unit:
            if v.patient_id is not None:
                units_of.setdefault(v.patient_id, []).append(key)
    shared = [keys for keys in units_of.values() if len(set(keys)) > 1]
    if not shared:
        return sites
    parent = {key: key for key in sites}

    def root(key: str) -> str:
        while parent[key] != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    for keys in shared:
        for key in keys[1:]:
            parent[root(key)] = root(keys[0])
    merged: dict[str, list[Visit]] = {}
    for key, unit in sites.items():
        merged.setdefault(root(key), []).extend(unit)
    return merged


def _bisect(units: list[list[Visit]], count: int) -> list[list[list[Visit]]]:
    if count <= 1 or len(units) <= 1:
        return [units]
    xy = [_xy(unit[0].location) for unit in units]
    xs, ys = [p[0] for p in xy], [p[1] for p in xy]
    axis = 0 if max(xs) - min(xs) >= max(ys) - min(ys) else 1
    order = sorted(range(len(units)), key=lambda i: (xy[i][axis], units[i][0].id))
    left_count = count // 2
    goal = sum(len(u) for u in units) * left_count / count
    cut, weight = 0, 0
    while cut < len(order) - 1 and weight + len(units[order[cut]]) / 2 < goal:
        weight += len(units[order[cut]])
        cut += 1
    cut = max(cut, 1)
    left, right = [units[i] for i in order[:cut]], [units[i] for i in order[cut:]]
    return _bisect(left, left_count) + _bisect(right, count - left_count)


def _xy(location: Location) -> tuple[float, float]:
    """Kilometres east and north of (0, 0) at the location's latitude: enough to compare nearby points."""
    return location.lon * 111.0 * math.cos(math.radians(location.lat)), location.lat * 111.0


def _km(a: tuple[float, float], b: tuple[float, float]) -> float:
    return math.hypot(a[0] - b[0], a[1] - b[1])


def _centre(visits: Sequence[Visit]) -> tuple[float, float]:
    points = [_xy(v.location) for v in visits]
    return sum(p[0] for p in points) / len(points), sum(p[1] for p in points) / len(points)


def working_minutes(therapist: Therapist) -> int:
    """The minutes a therapist can spend on visits and travel: the shift less breaks, capped."""
    minutes = therapist.shift_end_min - therapist.shift_start_min - sum(b.duration_min for b in therapist.breaks)
    if therapist.max_working_min is not None:
        minutes = min(minutes, therapist.max_working_min)
    return max(minutes, 0)


def allot_therapists(problem: Problem, parts: list[list[Visit]]) -> list[tuple[list[Therapist], list[Visit]]]:
    """Each region's therapists and visits.

    Each region's work (session, buffer and a travel allowance per visit) is covered urgent work
    first: every region's urgent minutes, then "soon", then routine, each level while working
    minutes last, so an overbooked day spends its therapists where the urgent visits are. Then
    therapists are handed out nearest home first to regions still short of their share; those
    left over go to the region nearest their home. A visit whose region holds nobody who could
    serve it even alone (skills, credentials, pins, or too far for its window) moves to the
    nearest region that does (it stays, to be explained, if none does).
    """
    centres = [_centre(p) for p in parts]
    supply = sum(working_minutes(t) for t in problem.therapists)
    need = [0.0] * len(parts)
    for level in sorted(Priority, reverse=True):
        work = [sum(v.duration_min + v.buffer_min + TRAVEL_ALLOWANCE_MIN for v in p if v.priority == level) for p in parts]
        total = sum(work)
        if not total:
            continue
        scale = min(1.0, max(supply, 0.0) / total)
        need = [n + w * scale for n, w in zip(need, work, strict=True)]
        supply -= total * scale
    homes = [_xy(t.start) for t in problem.therapists]
    pairs = sorted(
        (_km(homes[k], centres[c]), k, c) for k in range(len(problem.therapists)) for c in range(len(parts))
    )
    region_of: dict[int, int] = {}
    covered = [0.0] * len(parts)
    for _, k, c in pairs:
        if k not in region_of and covered[c] < need[c]:
            region_of[k] = c
            covered[c] += working_minutes(problem.therapists[k])
    for _, k, c in pairs:
        region_of.setdefault(k, c)  # the first pair of a therapist left over is its nearest region
    teams: list[list[Therapist]] = [[] for _ in parts]
    for k, t in enumerate(problem.therapists):
        teams[region_of[k]].append(t)
    visits: list[list[Visit]] = [[] for _ in parts]
    for c, part in enumerate(parts):
        for v in part:
            if any(fits_alone(problem, v, t) for t in teams[c]):
                visits[c].append(v)
                continue
            able = [d for d in range(len(parts)) if any(fits_alone(problem, v, t) for t in teams[d])]
            here = _xy(v.location)
            visits[min(able, key=lambda d: (_km(here, centres[d]), d)) if able else c].append(v)
    return list(zip(teams, visits, strict=True))


def _sub_problem(problem: Problem, therapists: list[Therapist], visits: list[Visit]) -> Problem:
    """The region as a problem of its own: lists of therapists narrowed to the region's team."""
    ids = frozenset(t.id for t in therapists)
    narrowed = []
    for v in visits:
        changes = {}
        if v.allowed_therapists is not None and not v.allowed_therapists <= ids:
            changes["allowed_therapists"] = v.allowed_therapists & ids
        for name in ("forbidden_therapists", "preferred_therapists"):
            if not getattr(v, name) <= ids:
                changes[name] = getattr(v, name) & ids
        if v.pinned_therapist is not None and v.pinned_therapist not in ids:
            changes["allowed_therapists"] = frozenset()  # its therapist works elsewhere: nobody here may
            changes["pinned_therapist"] = None
        narrowed.append(replace(v, **changes) if changes else v)
    return Problem(tuple(therapists), tuple(narrowed), travel=problem.travel, horizon_min=problem.horizon_min)


def mend(data: ModelData, routes: list[Route]) -> list[Route]:
    """``routes`` with left-out visits put where they fit across the regions' borders (see the
    module); an urgent visit still out then takes the place of a lower-priority visit on a nearby
    route (the reasons' drop search), and what that leaves out is offered again."""
    node_of = {v.id: i for i, v in enumerate(data.visits)}
    vehicle_of = {t.id: k for k, t in enumerate(data.therapists)}
    timed: dict[int, Route] = {vehicle_of[r.therapist_id]: r for r in routes}
    nodes = [[node_of[s.visit_id] for s in timed[k].stops] if k in timed else [] for k in range(len(data.therapists))]
    _fill(data, timed, nodes)
    if _make_room_for_urgent(data, timed, nodes):
        _fill(data, timed, nodes)
    return [timed[k] for k in sorted(timed)]


def _fill(data: ModelData, timed: dict[int, Route], nodes: list[list[int]]) -> None:
    """``fill_routes`` on ``nodes``; each changed route re-timed and kept only if checked clean."""
    before = [list(n) for n in nodes]
    if not fill_routes(data, nodes):
        return
    for k, (old, new) in enumerate(zip(before, nodes, strict=True)):
        if old != new and not _retime(data, timed, k, new):
            nodes[k] = old


def _retime(data: ModelData, timed: dict[int, Route], vehicle: int, sequence: list[int]) -> bool:
    """Put ``sequence`` on ``vehicle`` timed by the re-plans' walk, if the checker finds it clean."""
    walk = RouteWalk(data, vehicle)
    if any(walk.add(n) is not None for n in sequence):
        return False
    route = walk.route()
    if check_route(data.problem, data.therapists[vehicle], route, [data.visits[n] for n in sequence]):
        return False
    # A visit moved across a border may meet its patient's session on another region's route.
    if patient_clashes(data.problem, [route, *(r for k, r in timed.items() if k != vehicle)]):
        return False
    timed[vehicle] = route
    return True


def _make_room_for_urgent(data: ModelData, timed: dict[int, Route], nodes: list[list[int]]) -> bool:
    """Each urgent visit still out takes the place of the cheapest-to-lose visit of lower priority on
    one of the routes passing nearest to it, where the changed route checks clean; whether any did."""
    plan = _Plan(data.problem, data, [timed[k] for k in sorted(timed)])
    served = {n for route in nodes for n in route}
    urgent = [n for n, v in enumerate(data.visits) if n not in served and v.priority == Priority.URGENT]
    changed = False
    for node in sorted(urgent, key=lambda n: -plan._penalty(n)):
        visit = data.visits[node]
        able = [k for k, t in enumerate(data.therapists) if fits_alone(data.problem, visit, t)]
        nearest = nearest_vehicles(data, plan.routes, node, able)[:NEAREST_DROPS]
        drops = [p for k in nearest if (p := plan._best_drop(k, node)) is not None]
        drops = [p for p in drops if plan._penalty(p.dropped) < plan._penalty(node)]
        for place in sorted(drops, key=lambda p: (plan._penalty(p.dropped), p.added_travel, p.vehicle)):
            kept = [n for n in plan.routes[place.vehicle] if n != place.dropped]
            sequence = [*kept[: place.position], node, *kept[place.position :]]
            if _retime(data, timed, place.vehicle, sequence):
                nodes[place.vehicle] = plan.routes[place.vehicle] = sequence
                plan.timed[place.vehicle] = timed[place.vehicle]
                plan.prefixes.pop(place.vehicle, None)
                changed = True
                break
    return changed


def plan_objective(data: ModelData, routes: list[Route]) -> int:
    """What the one model's objective would count for ``routes``: travel and continuity costs of
    the arcs, and the penalty of every modelled visit left out (hundredths of a travel minute)."""
    options = data.options
    node_of = {v.id: i for i, v in enumerate(data.visits)}
    vehicle_of = {t.id: k for k, t in enumerate(data.therapists)}
    cost, served = 0.0, set()
    for r in routes:
        k = vehicle_of[r.therapist_id]
        therapist = data.therapists[k]
        minutes = data.travel_min(k)
        path = [data.start_node(k), *(node_of[s.visit_id] for s in r.stops), data.end_node(k)]
        for a, b in zip(path, path[1:], strict=False):
            cost += round((options.travel_min_weight * minutes[a, b] * therapist.cost_weight
                           + options.travel_km_weight * data.km[a, b]) * COST_SCALE)
        for s in r.stops:
            served.add(s.visit_id)
            preferred = data.visits[node_of[s.visit_id]].preferred_therapists
            if preferred and therapist.id not in preferred:
                cost += round(options.continuity_cost * COST_SCALE)
    cost += sum(round(unassigned_penalty(v, options) * COST_SCALE) for v in data.visits if v.id not in served)
    return int(cost)


def _totals(routes: list[Route]) -> tuple[int, float]:
    return sum(len(r.stops) for r in routes), sum(r.travel_min for r in routes)
