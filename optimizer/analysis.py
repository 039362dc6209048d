"""Post-analysis: why a visit was left out, and the plan's KPIs."""

from __future__ import annotations

from optimizer.model_data import ceil_min
from optimizer.problem import Problem, Therapist, Visit
from optimizer.solution import Kpis, Route, Unassigned

NO_SKILL = "No therapist has skill {skills}."
NO_SKILLS_TOGETHER = "No therapist has the skills {skills} together."
NO_THERAPIST = "No therapist is available that day (or has time left in it)."
NO_ELIGIBLE = "No eligible therapist (preferences/credentials): {detail}."
OUTSIDE_SHIFTS = "No eligible therapist is working {span}."
UNREACHABLE = (
    "Cannot be reached in time: no eligible therapist can travel there, start it {span}, serve it and get back "
    "within the shift."
)


def fits_alone(problem: Problem, visit: Visit, therapist: Therapist) -> bool:
    """Whether ``therapist`` could serve ``visit`` as the only visit of the day (breaks aside)."""
    if not visit.eligible(therapist):
        return False
    if therapist.max_visits == 0 or (therapist.capacity is not None and visit.demand > therapist.capacity):
        return False
    travel = problem.travel
    out = ceil_min(travel.travel_min(therapist.start, visit.location, therapist.speed_kmh)) + visit.overhead_min
    if visit.site_id is not None and visit.site_id == therapist.start_site_id:
        out = 0
    back = ceil_min(travel.travel_min(visit.location, therapist.end, therapist.speed_kmh))
    service = visit.duration_min + visit.buffer_min
    for w in visit.windows:
        start = max(w.start_min, therapist.shift_start_min + out)
        if visit.pinned_start_min is not None:
            start = max(start, visit.pinned_start_min)
            if start != visit.pinned_start_min:
                continue
        working = out + service + back
        if start <= w.end_min and start + service + back <= therapist.shift_end_min:
            if therapist.max_working_min is None or working <= therapist.max_working_min:
                return True
    return False


def hhmm(minute: int) -> str:
    """Minutes from the horizon start as a clock time, "14:10"."""
    return f"{minute // 60:02d}:{minute % 60:02d}"


def during(visit: Visit) -> str:
    """When the visit may start, "between 09:00 and 10:00" or "in its windows 09:00–10:00, 14:00–15:00"."""
    windows = sorted(visit.windows, key=lambda w: w.start_min)
    if len(windows) == 1:
        return f"between {hhmm(windows[0].start_min)} and {hhmm(windows[0].end_min)}"
    return "in its windows " + ", ".join(f"{hhmm(w.start_min)}–{hhmm(w.end_min)}" for w in windows)


def static_reason(problem: Problem, visit: Visit) -> Unassigned | None:
    """Why no therapist could serve ``visit`` even alone, or None when one could (see ``reasons``)."""
    therapists = problem.therapists
    if not therapists:
        # Nobody works (a day off for all) or nobody has time left (a late re-plan): no skill is missing.
        return Unassigned(visit.id, "outside_shifts", NO_THERAPIST)
    skilled = [t for t in therapists if visit.required_skills <= t.skills]
    if not skilled:
        held = set().union(*(t.skills for t in therapists))
        missing = sorted(visit.required_skills - held)
        if not missing:  # each skill is on the staff, never all of them in one therapist
            return Unassigned(
                visit.id, "no_skill", NO_SKILLS_TOGETHER.format(skills=", ".join(sorted(visit.required_skills)))
            )
        return Unassigned(visit.id, "no_skill", NO_SKILL.format(skills=", ".join(missing)))
    eligible = [t for t in skilled if visit.eligible(t)]
    if not eligible:
        detail = (
            "pinned to " + visit.pinned_therapist if visit.pinned_therapist else "allowed/forbidden lists exclude all"
        )
        return Unassigned(visit.id, "no_eligible_therapist", NO_ELIGIBLE.format(detail=detail))
    overlapping = [
        t
        for t in eligible
        if any(w.start_min <= t.shift_end_min and w.end_min >= t.shift_start_min for w in visit.windows)
    ]
    if not overlapping:
        return Unassigned(visit.id, "outside_shifts", OUTSIDE_SHIFTS.format(span=during(visit)))
    if not any(fits_alone(problem, visit, t) for t in overlapping):
        return Unassigned(visit.id, "unreachable", UNREACHABLE.format(span=during(visit)))
    return None


def prefilter(problem: Problem) -> tuple[list[Visit], list[Visit]]:
    """Split visits into those worth modelling and those no therapist could serve even alone."""
    modelled, excluded = [], []
    for visit in problem.visits:
        possible = any(fits_alone(problem, visit, t) for t in problem.therapists)
        (modelled if possible else excluded).append(visit)
    return modelled, excluded


def kpis_of(problem: Problem, routes: list[Route], unassigned: list[Unassigned]) -> Kpis:
    visits = {v.id: v for v in problem.visits}
    working = sum(r.working_min for r in routes)
    shifts = sum(t.shift_end_min - t.shift_start_min for t in problem.therapists)
    with_preferences = [
        (s.visit_id, r.therapist_id) for r in routes for s in r.stops if visits[s.visit_id].preferred_therapists
    ]
    kept = sum(1 for vid, tid in with_preferences if tid in visits[vid].preferred_therapists)
    return Kpis(
        travel_min=sum(r.travel_min for r in routes),
        travel_km=sum(r.travel_km for r in routes),
        working_min=working,
        utilisation=working / shifts if shifts else 0.0,
        continuity_rate=kept / len(with_preferences) if with_preferences else None,
        assigned=sum(len(r.stops) for r in routes),
        unassigned=len(unassigned),
    )
