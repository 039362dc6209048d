"""An independent checker: recomputes every route from the problem, without OR-Tools.

It trusts nothing in the solution but the order of stops and the times it reports, and lists
every rule those break. Travel is taken unrounded from the problem's travel provider.
"""

from __future__ import annotations

from dataclasses import dataclass

from optimizer.problem import Problem, Therapist, Visit
from optimizer.solution import Route, Solution

EPS = 1e-6
KINDS = (
    "unknown_therapist",
    "unknown_visit",
    "served_twice",
    "missing",
    "window",
    "shift_start",
    "shift_end",
    "travel",
    "overlap",
    "duration",
    "break_missing",
    "break_window",
    "break_overlap",
    "skill",
    "allowed",
    "forbidden",
    "max_visits",
    "max_working",
    "capacity",
    "pinned",
    "patient_overlap",
)


@dataclass(frozen=True)
class Violation:
    kind: str
    message: str
    therapist_id: str | None = None
    visit_id: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind: {self.kind!r} is not one of {KINDS}.")


def check_solution(problem: Problem, solution: Solution) -> list[Violation]:
    """List every rule the solution breaks; an empty list means the plan is valid."""
    visits = {v.id: v for v in problem.visits}
    therapists = {t.id: t for t in problem.therapists}
    found: list[Violation] = []
    seen: set[str] = set()
    routed_therapists: set[str] = set()
    for route in solution.routes:
        therapist = therapists.get(route.therapist_id)
        if therapist is None or route.therapist_id in routed_therapists:
            found.append(
                Violation(
                    "unknown_therapist",
                    f"Route for unknown or repeated therapist {route.therapist_id}.",
                    route.therapist_id,
                )
            )
            continue
        routed_therapists.add(route.therapist_id)
        for stop in route.stops:
            if stop.visit_id not in visits:
                found.append(
                    Violation(
                        "unknown_visit",
                        f"Visit {stop.visit_id} is not in the problem.",
                        route.therapist_id,
                        stop.visit_id,
                    )
                )
            elif stop.visit_id in seen:
                found.append(
                    Violation(
                        "served_twice", f"Visit {stop.visit_id} is served twice.", route.therapist_id, stop.visit_id
                    )
                )
            seen.add(stop.visit_id)
        if all(s.visit_id in visits for s in route.stops):
            found += check_route(problem, therapist, route, [visits[s.visit_id] for s in route.stops])
    for u in solution.unassigned:
        if u.visit_id not in visits:
            found.append(
                Violation("unknown_visit", f"Unassigned visit {u.visit_id} is not in the problem.", visit_id=u.visit_id)
            )
        elif u.visit_id in seen:
            found.append(
                Violation("served_twice", f"Visit {u.visit_id} is both served and unassigned.", visit_id=u.visit_id)
            )
        seen.add(u.visit_id)
    for vid in visits.keys() - seen:
        found.append(Violation("missing", f"Visit {vid} is neither served nor unassigned.", visit_id=vid))
    found += check_patients(problem, solution.routes)
    return found


def check_patients(problem: Problem, routes) -> list[Violation]:
    """One patient in two sessions at once, on any routes (sessions only: a buffer is the therapist's)."""
    return [
        Violation(
            "patient_overlap",
            f"{later.visit_id} ({later_tid}) starts at {later.start_min}, while patient {patient} is in"
            f" {first.visit_id} ({first_tid}) until {first.end_min}.",
            later_tid,
            later.visit_id,
        )
        for patient, (first, first_tid), (later, later_tid) in patient_clashes(problem, routes)
    ]


def patient_clashes(problem: Problem, routes) -> list[tuple[str, tuple, tuple]]:
    """``(patient, (stop, therapist id), (later stop, therapist id))`` for each pair of one patient's
    sessions that overlap; nothing to sort on a day without two visits of one patient."""
    patient_of = {v.id: v.patient_id for v in problem.visits if v.patient_id is not None}
    sessions: dict[str, list[tuple]] = {}
    for route in routes:
        for stop in route.stops:
            if stop.visit_id in patient_of:
                sessions.setdefault(patient_of[stop.visit_id], []).append((stop, route.therapist_id))
    found = []
    for patient, held in sessions.items():
        held.sort(key=lambda h: (h[0].start_min, h[0].visit_id))
        for i, (first, first_tid) in enumerate(held):
            for later, later_tid in held[i + 1 :]:
                if later.start_min >= first.end_min:
                    break
                found.append((patient, (first, first_tid), (later, later_tid)))
    return found


def check_route(problem: Problem, therapist: Therapist, route: Route, visits: list[Visit]) -> list[Violation]:
    """Every rule one route breaks; ``visits`` are the visits of its stops, in order."""
    tid = therapist.id
    found: list[Violation] = []

    def flag(kind: str, message: str, visit_id: str | None = None) -> None:
        found.append(Violation(kind, message, tid, visit_id))

    if route.start_min < therapist.shift_start_min:
        flag(
            "shift_start", f"{tid} leaves at {route.start_min}, before the shift starts at {therapist.shift_start_min}."
        )
    if route.end_min > therapist.shift_end_min:
        flag("shift_end", f"{tid} is back at {route.end_min}, after the shift ends at {therapist.shift_end_min}.")
    if therapist.max_visits is not None and len(visits) > therapist.max_visits:
        flag("max_visits", f"{tid} serves {len(visits)} visits, more than {therapist.max_visits}.")
    if therapist.max_working_min is not None and route.end_min - route.start_min > therapist.max_working_min:
        flag(
            "max_working", f"{tid} works {route.end_min - route.start_min} min, more than {therapist.max_working_min}."
        )
    demand = sum(v.demand for v in visits)
    if therapist.capacity is not None and demand > therapist.capacity:
        flag("capacity", f"{tid} carries {demand}, more than the capacity {therapist.capacity}.")
    found += _check_breaks(therapist, route)

    travel = problem.travel
    here, site, free_at = therapist.start, therapist.start_site_id, float(route.start_min)
    for stop, visit in zip(route.stops, visits, strict=True):
        vid = visit.id
        same_site = visit.site_id is not None and visit.site_id == site
        leg = 0.0 if same_site else travel.travel_min(here, visit.location, therapist.speed_kmh)
        needed = leg + (0 if same_site else visit.overhead_min) + _break_time(route, free_at, stop.start_min)
        if stop.start_min + EPS < free_at + needed:
            flag(
                "travel",
                f"{vid} starts at {stop.start_min}, but {tid} can start it at {free_at + needed:.1f} at the earliest.",
                vid,
            )
        if not any(w.start_min <= stop.start_min <= w.end_min for w in visit.windows):
            flag("window", f"{vid} starts at {stop.start_min}, outside its windows.", vid)
        if (
            stop.end_min - stop.start_min != visit.duration_min
            or stop.buffer_end_min - stop.end_min != visit.buffer_min
        ):
            flag(
                "duration",
                f"{vid} lasts {stop.end_min - stop.start_min} min plus {stop.buffer_end_min - stop.end_min} buffer.",
                vid,
            )
        if not visit.required_skills <= therapist.skills:
            flag(
                "skill",
                f"{tid} lacks skill {', '.join(sorted(visit.required_skills - therapist.skills))} for {vid}.",
                vid,
            )
        if visit.allowed_therapists is not None and tid not in visit.allowed_therapists:
            flag("allowed", f"{tid} is not among the therapists allowed for {vid}.", vid)
        if tid in visit.forbidden_therapists:
            flag("forbidden", f"{tid} is forbidden for {vid}.", vid)
        if visit.pinned_therapist is not None and visit.pinned_therapist != tid:
            flag("pinned", f"{vid} is pinned to {visit.pinned_therapist}, not {tid}.", vid)
        if visit.pinned_start_min is not None and visit.pinned_start_min != stop.start_min:
            flag("pinned", f"{vid} is pinned at {visit.pinned_start_min}, not {stop.start_min}.", vid)
        here, site, free_at = (
            visit.location,
            visit.site_id,
            float(stop.start_min + visit.duration_min + visit.buffer_min),
        )
    back = travel.travel_min(here, therapist.end, therapist.speed_kmh) + _break_time(route, free_at, route.end_min)
    if route.stops and route.end_min + EPS < free_at + back:
        flag(
            "shift_end", f"{tid} reports being back at {route.end_min} but cannot be back before {free_at + back:.1f}."
        )
    return found


def _break_time(route: Route, after: float, before: float) -> int:
    """Minutes of breaks taken between ``after`` and ``before``."""
    return sum(
        b.end_min - b.start_min for b in route.breaks if after - EPS <= b.start_min and b.end_min <= before + EPS
    )


def _check_breaks(therapist: Therapist, route: Route) -> list[Violation]:
    tid = therapist.id
    found = []
    if len(route.breaks) != len(therapist.breaks):
        found.append(
            Violation("break_missing", f"{tid} has {len(therapist.breaks)} breaks but takes {len(route.breaks)}.", tid)
        )
    wanted = sorted(therapist.breaks, key=lambda b: b.earliest_start_min)
    for rule, placed in zip(wanted, sorted(route.breaks, key=lambda b: b.start_min), strict=False):
        if not (rule.earliest_start_min <= placed.start_min <= rule.latest_start_min) or (
            placed.end_min - placed.start_min < rule.duration_min
        ):
            found.append(Violation("break_window", f"{tid}'s break at {placed.start_min} breaks its rule {rule}.", tid))
    for stop in route.stops:
        for placed in route.breaks:
            if placed.start_min < stop.buffer_end_min and stop.start_min < placed.end_min:
                found.append(
                    Violation(
                        "break_overlap",
                        f"{tid}'s break at {placed.start_min} overlaps {stop.visit_id}.",
                        tid,
                        stop.visit_id,
                    )
                )
    for a, b in zip(route.stops, route.stops[1:], strict=False):
        if b.start_min < a.buffer_end_min:
            found.append(Violation("overlap", f"{b.visit_id} starts before {a.visit_id} is over.", tid, b.visit_id))
    return found
