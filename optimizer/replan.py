"""Re-plans that respect the day: local first, then only what must move.

A re-plan starts from the current plan (``Visit.current_therapist`` / ``current_start_min`` and
the routes in visiting order) and reaches no further than it must:

1. *Local*: the therapists the report concerns (the one running late, the one whose session ran
   over, whose visit was cancelled, who went home) and any whose route no longer holds as booked
   re-plan their own routes; everyone else's day stays exactly as it is. Done when they keep
   every booked visit. Only a therapist whose day was not pushed (time freed by a cancellation)
   takes a waiting request into it; a visit to place is offered to them all.
2. *Nearby*: visits that still need a home (a local route could not keep them because a window
   or the shift would break, a request to place, any urgent request waiting) go to a few
   therapists: those with room for them at the least added travel first, then the nearest whose
   day could hold them; with those therapists' own booked visits. What the local step kept stays
   with its therapist. Waiting routine requests do not enter other therapists' days here.
3. *Further*: only if a visit is still without a home, the same with the next few therapists;
   a visit no therapist has room for stays out, with its reason.

Without a concerned therapist or a visit to place (a coordinator's "re-plan now" on a day that
holds as booked) the whole day is open from the current plan at once. Every step pays the
stability costs of ``Options`` and starts from what still fits of the current plan, so none
returns a plan costlier than keeping it. A pinned visit keeps its therapist and time; when that
became impossible its pin is relaxed (time first, then therapist) and it is listed in
``conflicts`` for the coordinator to decide.
"""

from __future__ import annotations

import dataclasses
import time as clock
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from optimizer.analysis import fits_alone, kpis_of
from optimizer.check import check_route, patient_clashes
from optimizer.model_data import ModelData, build_model_data
from optimizer.options import Options
from optimizer.problem import Priority, Problem, Visit
from optimizer.reasons import cheapest_insertion, explain_unassigned
from optimizer.solution import Route, Solution
from optimizer.solve import solve
from optimizer.warm_start import PINNED, KeptPlan, keep_plan

LOCAL, NEARBY, FURTHER, ALL = "local", "nearby", "further", "all"
SCOPES = (LOCAL, NEARBY, FURTHER, ALL)
NEIGHBOURS = 4  # therapists asked per ring for each visit that needs a home
RINGS = 2  # rings of therapists asked before a visit is given up
CLOSEST = 12  # therapists whose day passes nearest, of which those with room form the rings
MIN_STEP_S = 0.5  # each step's time limit at least, whatever the earlier steps used
CUT = ("first_plan", "time_limit")  # stops that say the wall clock decided, worst first


@dataclass(frozen=True)
class Replan:
    """The proposal and what it was built from, so each change can be explained."""

    solution: Solution
    kept: KeptPlan  # the current plan less what no longer fits, and why each such visit does not
    scope: str  # how far the re-plan had to reach (SCOPES)
    local_therapists: tuple[str, ...]  # whose days the re-plan concerns (one gone home included)
    rehomed: tuple[str, ...]  # visits that needed a home beyond the local routes
    conflicts: dict[str, str]  # pinned visit id -> the rule that broke its pin

    @property
    def current_travel_min(self) -> float:
        """Travel of the current plan as it stood, for "travel added"."""
        return self.kept.travel_min


def replan(
    problem: Problem,
    *,
    current_routes: Mapping[str, Sequence[str]],
    concerned: Iterable[str] = (),
    placing: Iterable[str] = (),
    options: Options | None = None,
) -> Replan:
    """Re-plan ``problem`` from ``current_routes``, changing as little of the day as it can.

    Parameters
    ----------
    problem
        The rest of the day: therapists from where and when they are free, booked visits with
        ``current_therapist`` and ``current_start_min`` set, open requests without.
    current_routes
        The current plan, therapist id -> visit ids in visiting order (unknown ids are ignored).
    concerned
        Therapists the report concerns; their routes change first.
    placing
        Visits to find a home for beyond the concerned routes (a new request); unbooked urgent
        requests always are.
    options
        Weights and search settings. In time mode ``options.time_limit_s`` bounds the whole
        re-plan (each step gets what is left, at least ``MIN_STEP_S``). In deterministic mode the
        steps share it by a fixed rule instead of by the clock (``_step``), so a loaded machine
        gives the same re-plan later; ``options.wall_limit_s`` caps the whole re-plan.

    Returns
    -------
    Replan
        The plan for the whole problem, the kept plan and the scope the re-plan needed.
    """
    started = clock.monotonic()
    options = options or Options()
    deadline = started + options.wall_limit_s
    problem = dataclasses.replace(problem, travel=_IndexedTravel.around(problem))
    problem, data, kept, conflicts = _relax_broken_pins(problem, current_routes, options)
    by_id = {v.id: v for v in problem.visits}
    local = set(concerned) | {b.therapist_id for b in kept.broken.values()}
    local |= {by_id[vid].current_therapist for vid in kept.moved(by_id)}
    # Urgent requests always look for a home; routine ones only in time a step frees.
    homeless = {vid for vid in placing if vid in by_id}
    homeless |= {v.id for v in problem.visits if not v.booked and v.priority == Priority.URGENT}
    if not local and not homeless:
        solution = solve(problem, options=_step(options, deadline, 0), initial_routes=kept.routes)
        return Replan(solution, kept, ALL, (), (), conflicts)

    present = {t.id for t in problem.therapists}
    routes = dict(kept.routes)
    solved: dict[str, Route] = {}
    stay: dict[str, str] = {}  # visit id -> the therapist an earlier step gave it to
    last: Solution | None = None
    stops: list[str | None] = []
    scope = LOCAL
    if local & present:
        # A therapist with time freed (a cancellation) may take a waiting request into it; one
        # whose day is already pushed (late, running over) takes on nothing new.
        pushed = {b.therapist_id for b in kept.broken.values()}
        pushed |= {by_id[v].current_therapist for v in kept.moved(by_id)}
        free = [t for t in problem.therapists if t.id in local - pushed]

        def in_local_step(v: Visit) -> bool:
            return v.current_therapist in local or v.id in homeless or (not v.booked and any(map(v.eligible, free)))

        last = solve(
            _restricted(problem, present & local, in_local_step),
            options=_step(options, deadline, len(stops)),
            initial_routes={t: r for t, r in kept.routes.items() if t in local},
        )
        stops.append(last.stopped_by)
        _take(last, local & present, routes, solved, stay)
    spilled = {v.id for v in problem.visits if v.current_therapist in local and v.id not in stay}
    homeless = (homeless | spilled) - stay.keys()
    rehomed = tuple(sorted(homeless))
    # The local therapists had their chance; the rings are the others with room.
    ranked = {vid: [t for t in _candidates(data, kept, by_id[vid]) if t not in local] for vid in sorted(homeless)}
    for ring in range(RINGS):
        near = {tid for vid in homeless for tid in ranked[vid][ring * NEIGHBOURS : (ring + 1) * NEIGHBOURS]}
        if not near:
            break  # no other therapist has room for them: they stay out, each with its reason
        scope = NEARBY if ring == 0 else FURTHER
        near |= present & local
        last = solve(
            _ring_problem(problem, near, homeless, stay),
            options=_step(options, deadline, len(stops)),
            initial_routes={t: routes.get(t, ()) for t in near},
        )
        stops.append(last.stopped_by)
        _take(last, near, routes, solved, stay)
        homeless -= stay.keys()
    solution = _assembled(problem, data, kept, routes, solved, last, options, started, stops)
    return Replan(solution, kept, scope, tuple(sorted(local)), rehomed, conflicts)


def _ring_problem(problem: Problem, near: set[str], homeless: set[str], stay: dict[str, str]) -> Problem:
    """The visits needing a home, with the ring's therapists and their own booked visits; what an earlier
    step placed stays with the therapist it went to."""

    def stays(v: Visit) -> Visit:
        return dataclasses.replace(v, allowed_therapists=frozenset({stay[v.id]})) if v.id in stay else v

    chosen = frozenset(homeless)
    return _restricted(
        problem, near, lambda v: v.id in chosen or v.id in stay or v.current_therapist in near, change=stays
    )


def _take(
    solution: Solution, therapists: set[str], routes: dict, solved: dict[str, Route], stay: dict[str, str]
) -> None:
    """Record a step's routes: they replace the routes of every therapist the step planned."""
    for t in therapists:
        routes[t] = ()
        solved.pop(t, None)
    for r in solution.routes:
        routes[r.therapist_id] = tuple(s.visit_id for s in r.stops)
        solved[r.therapist_id] = r
        stay |= {s.visit_id: r.therapist_id for s in r.stops}


def _assembled(
    problem: Problem,
    data: ModelData,
    kept: KeptPlan,
    routes: dict,
    solved: dict[str, Route],
    last: Solution | None,
    options: Options,
    started: float,
    stops: list[str | None],
) -> Solution:
    """The whole day: solved routes where a step planned, the kept routes elsewhere, as they were."""
    therapists = {t.id: t for t in problem.therapists}
    by_id = {v.id: v for v in problem.visits}
    merged = [solved.get(t) or kept.timed.get(t) for t in therapists if routes.get(t)]
    merged = [r for r in merged if r is not None]
    if patient_clashes(problem, merged) or any(
        check_route(problem, therapists[r.therapist_id], r, [by_id[s.visit_id] for s in r.stops]) for r in merged
    ):
        # The walk's break placement is an approximation, and a step sees only its own therapists'
        # visits of a patient; the whole day's model times the routes instead.
        return solve(
            problem,
            options=dataclasses.replace(options, solution_limit=1, wall_cap_s=_left(options, started)),
            initial_routes=routes,
        )
    unassigned = explain_unassigned(problem, merged)
    return Solution(
        routes=tuple(merged),
        unassigned=tuple(unassigned),
        kpis=kpis_of(problem, merged, unassigned),
        status=last.status if last is not None and last.status != "empty" else "feasible",
        objective=last.objective if last is not None else 0,
        solve_time_s=clock.monotonic() - started,
        # A step the wall clock cut makes the whole re-plan depend on the machine: say so.
        stopped_by=next((s for s in CUT if s in stops), last.stopped_by if last is not None else "completed"),
    )


def _candidates(data: ModelData, kept: KeptPlan, visit: Visit) -> list[str]:
    """Therapists to ask for ``visit``: first those with room in their kept route, least added travel
    first; then those whose day could hold it alone (the solver may rearrange their route, or
    for urgent work leave something out), nearest first.

    Room: inserted somewhere in the route, every visit of it still fits (windows, shift, breaks)
    by the same walk as ``keep_plan``. Only the CLOSEST therapists whose day passes nearest are
    tried, so a re-plan's cost does not grow with the size of the team.
    """
    node_of = {v.id: i for i, v in enumerate(data.visits)}
    node = node_of[visit.id]
    nearby = []
    for k, therapist in enumerate(data.therapists):
        if not fits_alone(data.problem, visit, therapist):
            continue
        route = [node_of[vid] for vid in kept.routes.get(therapist.id, ())]
        travel = data.travel_min(k)
        nearby.append((min(float(travel[s, node]) for s in (data.start_node(k), *route)), k, route))
    nearby = sorted(nearby)[:CLOSEST]
    room = [(cheapest_insertion(data, k, route, node), k) for _, k, route in nearby]
    with_room = [k for _, k in sorted((added, k) for added, k in room if added is not None)]
    order = with_room + [k for _, k, _ in nearby if k not in with_room]
    return [data.therapists[k].id for k in order]


def _relax_broken_pins(
    problem: Problem, current_routes: Mapping[str, Sequence[str]], options: Options
) -> tuple[Problem, ModelData, KeptPlan, dict[str, str]]:
    """Unpin what can no longer be kept pinned: the time first, then (if that is not enough) the therapist."""
    conflicts: dict[str, str] = {}
    data = build_model_data(problem, options, list(problem.visits))
    kept = keep_plan(data, current_routes)
    for _ in range(2):
        visits = {v.id: v for v in problem.visits}
        relax = {
            vid: b.rule
            for vid, b in kept.broken.items()
            if vid in visits and (visits[vid].pinned_start_min is not None or visits[vid].pinned_therapist)
        }
        if not relax:
            break
        conflicts |= {vid: conflicts.get(vid, rule) for vid, rule in relax.items()}

        def unpinned(v: Visit, relax=relax) -> Visit:
            if v.id not in relax:
                return v
            if v.pinned_start_min is not None and relax[v.id] == PINNED:
                return dataclasses.replace(v, pinned_start_min=None)
            return dataclasses.replace(v, pinned_start_min=None, pinned_therapist=None)

        problem = dataclasses.replace(problem, visits=tuple(unpinned(v) for v in problem.visits))
        data = build_model_data(problem, options, list(problem.visits))
        kept = keep_plan(data, current_routes)
    return problem, data, kept, conflicts


def _restricted(
    problem: Problem,
    therapists: set[str],
    visits: Callable[[Visit], bool],
    change: Callable[[Visit], Visit] = lambda v: v,
) -> Problem:
    """The therapists named and the visits chosen, their therapist lists cut to those therapists."""
    keep = tuple(t for t in problem.therapists if t.id in therapists)
    ids = {t.id for t in keep}
    chosen = []
    for v in problem.visits:
        if not visits(v) or (v.pinned_therapist is not None and v.pinned_therapist not in ids):
            continue
        v = change(v)
        allowed = None if v.allowed_therapists is None else v.allowed_therapists & ids
        if allowed == frozenset():
            continue
        chosen.append(
            dataclasses.replace(
                v,
                allowed_therapists=allowed,
                forbidden_therapists=v.forbidden_therapists & ids,
                preferred_therapists=v.preferred_therapists & ids,
            )
        )
    return dataclasses.replace(problem, therapists=keep, visits=tuple(chosen))


class _IndexedTravel:
    """The problem's travel, looked up in its matrices by location index.

    Why: explaining why each left-out visit is left out asks "could this therapist serve it
    alone?" for every pair, thousands of per-pair travel calls (a quarter of a second on a
    250-visit day, most of a re-plan); the matrices are computed once (and memoised) anyway.
    """

    def __init__(self, inner, locations: list) -> None:
        self.inner = inner
        self.index = {loc: i for i, loc in enumerate(locations)}
        self.locations = locations
        self.km = inner.km_matrix(locations).tolist()
        self.minutes: dict[float | None, list] = {}

    @classmethod
    def around(cls, problem: Problem):
        inner = problem.travel
        if isinstance(inner, cls) or not (hasattr(inner, "km_matrix") and hasattr(inner, "minutes_matrix")):
            return inner
        places = [t.start for t in problem.therapists] + [t.end for t in problem.therapists]
        return cls(inner, list(dict.fromkeys(places + [v.location for v in problem.visits])))

    def travel_km(self, a, b) -> float:
        i, j = self.index.get(a), self.index.get(b)
        return self.inner.travel_km(a, b) if i is None or j is None else self.km[i][j]

    def travel_min(self, a, b, speed_kmh: float | None = None) -> float:
        i, j = self.index.get(a), self.index.get(b)
        if i is None or j is None:
            return self.inner.travel_min(a, b, speed_kmh)
        if speed_kmh not in self.minutes:
            self.minutes[speed_kmh] = self.inner.minutes_matrix(self.locations, speed_kmh).tolist()
        return self.minutes[speed_kmh][i][j]

    def km_matrix(self, locations):
        return self.inner.km_matrix(locations)

    def minutes_matrix(self, locations, speed_kmh: float | None = None):
        return self.inner.minutes_matrix(locations, speed_kmh)


def _step(options: Options, deadline: float, k: int) -> Options:
    """Options for step ``k`` (0: the local step or the whole day). Time mode: what is left of the
    time limit. Deterministic mode: a share fixed in advance (the whole limit for the first step,
    half of the previous share for each next, at least ``MIN_STEP_S``), which sizes the step's
    solution budget, and what is left of the wall cap as its cap."""
    left = max(deadline - clock.monotonic(), MIN_STEP_S)
    if not options.deterministic:
        return dataclasses.replace(options, time_limit_s=left)
    share = max(options.time_limit_s / 2**k, MIN_STEP_S)
    return dataclasses.replace(options, time_limit_s=share, wall_cap_s=left)


def _left(options: Options, started: float) -> float | None:
    if not options.deterministic:
        return None
    return max(started + options.wall_limit_s - clock.monotonic(), MIN_STEP_S)
