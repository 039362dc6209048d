"""The one module that knows both the domain and the optimiser.

``problem_from_visits`` turns a day's visits and therapists into an ``optimizer.Problem``;
``solution_assignments`` turns a solution back into dated assignments. Everything the
optimiser must not decide (contraindications, visits no window can hold) is kept out of
the problem here and reported with its reason.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import optimizer
from dispatch.models import ASSIGNED_STATUSES, FIXED_STATUSES, OPEN_STATUSES, Gender, Priority, Visit, VisitStatus
from dispatch.selectors.buffers import suggested_buffer_map
from dispatch.selectors.coverage import referral_problem, visits_beyond_units
from dispatch.services.booking import shifts_without, therapist_shifts_on
from dispatch.travel import travel_provider

if TYPE_CHECKING:
    from collections.abc import Iterable

    from dispatch.models import Organization, Therapist

DAY_MIN = 24 * 60
PRIORITY = {
    Priority.ROUTINE: optimizer.Priority.ROUTINE,
    Priority.SOON: optimizer.Priority.SOON,
    Priority.URGENT: optimizer.Priority.URGENT,
}
CONTRAINDICATED = "Patient has an active contraindication ({kinds}) on {day}; the visit cannot be scheduled."
PATIENT_BUSY = "The patient is in another session at every time its windows allow."
OUTSIDE_DOOR = (
    "No window holds the {duration}-minute session inside {facility}'s visiting hours, {opens}-{closes}; the "
    "facility's hours have changed since the request was made."
)
NO_WINDOW_FITS = "No time window is long enough for the {duration}-minute session."
NO_MATCH_WORKING = "No therapist working on {day} meets this visit's needs ({needs})."
SKILLED_NOT_WORKING = "Needs {skills}: {names} {have} it, and {are} not working on {day}."
CANNOT_MODEL = "This visit's data cannot be planned ({error}); correct it and plan again."
THERAPIST_CANNOT_MODEL = "{name}'s day cannot be planned ({error}); their open visits go to others."
VISIT_PREFETCH = (
    "windows",
    "required_skills",
    "facility__required_credentials",
    "patient__excluded_therapists",
    "patient__preferred_therapists",
    "patient__contraindications",
)
THERAPIST_PREFETCH = ("skills", "breaks", "credentials", "weekly_availability", "availability_exceptions")


@dataclass(frozen=True)
class ExcludedVisit:
    """A visit the adapter kept out of the problem; the optimiser's own reasons have other codes."""

    visit_id: str
    code: str
    reason: str


@dataclass(frozen=True)
class LeftOutTherapist:
    therapist_id: int
    reason: str


@dataclass(frozen=True)
class DayProblem:
    problem: optimizer.Problem
    midnight: dt.datetime
    # Visits kept out of the problem, each with the reason a coordinator reads.
    excluded: tuple[ExcludedVisit, ...]
    # Therapists whose day could not be modelled (their data is wrong); the others are planned.
    left_out: tuple[LeftOutTherapist, ...] = ()


@dataclass(frozen=True)
class Assignment:
    visit_id: int
    therapist_id: int
    planned_start: dt.datetime
    planned_end: dt.datetime
    travel_min: int
    travel_km: float


def local_midnight(*, organization: Organization, day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), tzinfo=organization.tz)


def minutes_after(moment: dt.datetime, midnight: dt.datetime) -> int:
    # Wall-clock minutes, so a day with a daylight-saving change still maps 09:00 to 540.
    local = moment.astimezone(midnight.tzinfo)
    days = (local.date() - midnight.date()).days
    return min(max(days * DAY_MIN + local.hour * 60 + local.minute, 0), DAY_MIN)


def minutes_after_up(moment: dt.datetime, midnight: dt.datetime) -> int:
    """``minutes_after`` rounded up: the first whole minute not before ``moment`` (a start never comes earlier)."""
    return min(minutes_after(moment, midnight) + (1 if moment.second or moment.microsecond else 0), DAY_MIN)


def _clock(t: dt.time) -> int:
    return t.hour * 60 + t.minute


def therapist_for_day(
    *, therapist: Therapist, day: dt.date, midnight: dt.datetime, held: Iterable[tuple[dt.datetime, dt.datetime]] = ()
) -> optimizer.Therapist | None:
    """Weekly availability with the day's exceptions as one shift; gaps between shifts become fixed breaks.

    ``held`` is time already taken by visits outside the problem (started, finished, out of the
    plan's scope): it is cut out of the shift, so the plan and apply's overlap check agree.
    """
    shifts = shifts_without(shifts=therapist_shifts_on(therapist=therapist, day=day), taken=list(held))
    if not shifts:
        return None
    # A period that starts when a held visit's buffer ends at 11:53:25 starts at 11:54 for the optimiser.
    periods = [(minutes_after_up(s, midnight), minutes_after(e, midnight)) for s, e in shifts]
    gaps = [
        optimizer.Break(earliest_start_min=end, latest_start_min=end, duration_min=nxt - end)
        for (_, end), (nxt, _) in zip(periods, periods[1:], strict=False)
        if nxt > end
    ]
    shift_start, shift_end = periods[0][0], periods[-1][1]
    breaks = [
        optimizer.Break(
            earliest_start_min=max(_clock(b.earliest_start), shift_start),
            latest_start_min=min(_clock(b.latest_start), shift_end - b.duration_min),
            duration_min=b.duration_min,
        )
        for b in therapist.breaks.all()
        # A break that cannot fall inside today's (shortened) shift is not owed today.
        if max(_clock(b.earliest_start), shift_start) <= min(_clock(b.latest_start), shift_end - b.duration_min)
    ]
    home = optimizer.Location(therapist.home_lat, therapist.home_lon)
    return optimizer.Therapist(
        id=str(therapist.pk),
        start=home,
        end=home,
        shift_start_min=shift_start,
        shift_end_min=shift_end,
        breaks=tuple(gaps + breaks),
        skills=frozenset(s.code for s in therapist.skills.all()),
        max_visits=therapist.max_visits_per_day,
        max_working_min=therapist.max_working_minutes_per_day,
        speed_kmh=therapist.speed_kmh,
    )


def _start_windows(visit: Visit, midnight: dt.datetime, *, hours: bool = True) -> tuple[optimizer.TimeWindow, ...]:
    """A visit window holds the whole session; the optimiser's window is for the start. A facility's visiting hours
    as they are now bind it too: the windows were checked against them when given, and the hours may since have
    narrowed."""
    windows = []
    door = visit.facility.visiting_hours_on(visit.date, midnight.tzinfo) if hours and visit.facility else None
    for w in visit.windows.all():
        opens, closes = (max(w.start, door[0]), min(w.end, door[1])) if door else (w.start, w.end)
        # The optimiser counts whole minutes: a window opening at 09:00:30 opens for it at 09:01, not 09:00.
        start = minutes_after_up(opens, midnight)
        end = minutes_after(closes, midnight) - visit.duration_min
        if end >= start:
            # A window exactly as long as the session allows one start: widening it would run a minute over.
            windows.append(optimizer.TimeWindow(start, end))
    return tuple(windows)


def _eligible(visit: Visit, working: list[Therapist], day: dt.date) -> frozenset[str] | None:
    """Credentials and the patient's gender and language needs, as the set of working therapists allowed."""
    patient = visit.patient
    required = {c.pk for c in visit.facility.required_credentials.all()} if visit.facility_id else set()
    gender = patient.preferred_therapist_gender
    if not required and gender in ("", Gender.UNSPECIFIED) and not patient.language:
        return None
    allowed = set()
    for t in working:
        held = {c.credential_type_id for c in t.credentials.all() if c.expires_on is None or c.expires_on >= day}
        if not required <= held:
            continue
        if gender not in ("", Gender.UNSPECIFIED) and t.gender != gender:
            continue
        if patient.language and patient.language not in t.languages:
            continue
        allowed.add(str(t.pk))
    return frozenset(allowed)


def _needs(visit: Visit) -> str:
    patient, needs = visit.patient, []
    if visit.facility_id:
        needs += [f"{c.code} credential" for c in visit.facility.required_credentials.all()]
    if patient.preferred_therapist_gender not in ("", Gender.UNSPECIFIED):
        needs.append(f"a {Gender(patient.preferred_therapist_gender).label.lower()} therapist")
    if patient.language:
        needs.append(f"language {patient.language}")
    return ", ".join(needs)


def _skilled_but_off(
    visit: Visit, staff_skills: list[tuple[Therapist, frozenset[str]]], working: set[str], day: dt.date
) -> str | None:
    """Why nobody can take ``visit`` when every therapist holding its skills is off, or None."""
    required = {s.code for s in visit.required_skills.all()}
    if not required:
        return None
    holders = [t for t, skills in staff_skills if required <= skills]
    if not holders or any(str(t.pk) in working for t in holders):
        return None
    one = len(holders) == 1
    return SKILLED_NOT_WORKING.format(
        skills=" and ".join(sorted(required)), names=", ".join(t.display_name for t in holders),
        have="has" if one else "have", are="is" if one else "are", day=day,
    )


def _active_contraindications(visit: Visit, day: dt.date) -> list[str]:
    return sorted({c.get_kind_display().lower() for c in visit.patient.contraindications.all() if c.active_on(day)})


def problem_from_visits(
    *,
    organization: Organization,
    day: dt.date,
    visits: Iterable[Visit],
    therapists: Iterable[Therapist],
    buffers: dict[str, int] | None = None,
) -> DayProblem:
    """The day as an optimiser problem; one visit's or therapist's bad data never fails the whole day."""
    midnight = local_midnight(organization=organization, day=day)
    buffers = buffers if buffers is not None else suggested_buffer_map(organization=organization)
    visits = list(visits)
    staff = list(therapists)
    held = _held_elsewhere(organization=organization, day=day, visits=visits)
    day_therapists: list[optimizer.Therapist] = []
    left_out: list[LeftOutTherapist] = []
    for t in staff:
        try:
            modelled = therapist_for_day(therapist=t, day=day, midnight=midnight, held=held.get(t.pk, ()))
        except ValueError as exc:
            left_out.append(LeftOutTherapist(t.pk, THERAPIST_CANNOT_MODEL.format(name=t.display_name, error=exc)))
            continue
        if modelled is not None:
            day_therapists.append(modelled)
    working = {t.id for t in day_therapists}
    working_staff = [t for t in staff if str(t.pk) in working]
    staff_skills = [(t, frozenset(s.code for s in t.skills.all())) for t in staff]  # once, not per visit
    excluded: list[ExcludedVisit] = []
    problem_visits: list[optimizer.Visit] = []
    candidates = [v for v in visits if v.status in OPEN_STATUSES and v.status != VisitStatus.IN_PROGRESS]
    patient_held = _patient_sessions_held(organization=organization, day=day, candidates=candidates, midnight=midnight)
    # A patient's authorised units go to the visits that may take place today (see selectors.coverage).
    beyond_units = visits_beyond_units(
        visits=[
            v for v in candidates
            if not _active_contraindications(v, day) and referral_problem(patient=v.patient, day=day) is None
        ]
    )
    for v in candidates:
        kinds = _active_contraindications(v, day)
        if kinds:
            excluded.append(ExcludedVisit(
                str(v.pk), "contraindicated", CONTRAINDICATED.format(kinds=", ".join(kinds), day=day)
            ))
            continue
        referral = referral_problem(patient=v.patient, day=day)
        if referral is not None:
            excluded.append(ExcludedVisit(str(v.pk), "referral_expired", referral))
            continue
        if v.pk in beyond_units:
            excluded.append(ExcludedVisit(str(v.pk), "units_used_up", beyond_units[v.pk]))
            continue
        if (skilled_off := _skilled_but_off(v, staff_skills, working, day)) is not None:
            # Said here, where the staff off that day are known: the optimiser sees the working ones only, and
            # would answer "no therapist has the skill" of a skill the coordinator knows someone holds.
            excluded.append(ExcludedVisit(str(v.pk), "outside_shifts", skilled_off))
            continue
        allowed = _eligible(v, working_staff, day)
        if allowed is not None and not allowed:
            excluded.append(ExcludedVisit(
                str(v.pk), "no_eligible_therapist", NO_MATCH_WORKING.format(day=day, needs=_needs(v))
            ))
            continue
        try:
            visit = _problem_visit(v, midnight=midnight, buffers=buffers, allowed=allowed, working=working)
        except ValueError as exc:
            # The optimiser names the field it refused; the rest of the day is planned without this visit.
            excluded.append(ExcludedVisit(str(v.pk), "invalid_data", CANNOT_MODEL.format(error=exc)))
            continue
        if visit is None:
            door = v.facility.visiting_hours_on(v.date, midnight.tzinfo) if v.facility else None
            if door and _start_windows(v, midnight, hours=False):
                excluded.append(ExcludedVisit(str(v.pk), "outside_visiting_hours", OUTSIDE_DOOR.format(
                    facility=v.facility.name, opens=f"{door[0]:%H:%M}", closes=f"{door[1]:%H:%M}",
                    duration=v.duration_min,
                )))
                continue
            excluded.append(ExcludedVisit(str(v.pk), "no_window", NO_WINDOW_FITS.format(duration=v.duration_min)))
            continue
        if held_sessions := patient_held.get(v.patient_id):
            visit = _around_sessions(visit, held_sessions)
            if visit is None:
                excluded.append(ExcludedVisit(str(v.pk), "patient_busy", PATIENT_BUSY))
                continue
        problem_visits.append(visit)
    problem = optimizer.Problem(
        therapists=tuple(day_therapists),
        visits=tuple(problem_visits),
        travel=travel_provider(
            locations=[t.start for t in day_therapists] + [v.location for v in problem_visits]
        ),
    )
    return DayProblem(problem=problem, midnight=midnight, excluded=tuple(excluded), left_out=tuple(left_out))


def _patient_sessions_held(
    *, organization: Organization, day: dt.date, candidates: list[Visit], midnight: dt.datetime
) -> dict[int, list[tuple[int, int]]]:
    """Per patient of ``candidates``, the sessions (minutes after midnight) booked in visits the plan does not
    move (started, or out of its scope): the optimiser sees only the visits it plans, and would book the
    patient into one of these (``booking.patient_overlapping`` refuses that by hand)."""
    rows = (
        Visit.objects.filter(
            organization=organization, date=day, status__in=ASSIGNED_STATUSES, planned_start__isnull=False,
            planned_end__isnull=False, patient_id__in={v.patient_id for v in candidates},
        )
        .exclude(pk__in=[v.pk for v in candidates])
        .values_list("patient_id", "planned_start", "planned_end")
    )
    held: dict[int, list[tuple[int, int]]] = {}
    for patient_id, start, end in rows:
        held.setdefault(patient_id, []).append((minutes_after(start, midnight), minutes_after(end, midnight)))
    return held


def _around_sessions(visit: optimizer.Visit, sessions: list[tuple[int, int]]) -> optimizer.Visit | None:
    """``visit`` with the starts that would overlap one of ``sessions`` cut from its windows; None if none is left.

    A pinned start is left as it is: the booking holds, and the plan's checker reports the clash."""
    if visit.pinned_start_min is not None:
        return visit
    windows = [(w.start_min, w.end_min) for w in visit.windows]
    for start, end in sessions:
        # A start s overlaps [start, end) when s < end and s + duration > start.
        first_bad, last_bad = start - visit.duration_min + 1, end - 1
        windows = [
            part
            for lo, hi in windows
            for part in ((lo, min(hi, first_bad - 1)), (max(lo, last_bad + 1), hi))
            if part[0] <= part[1]
        ]
    if not windows:
        return None
    return replace(visit, windows=tuple(optimizer.TimeWindow(lo, hi) for lo, hi in windows))


def _held_elsewhere(
    *, organization: Organization, day: dt.date, visits: list[Visit]
) -> dict[int, list[tuple[dt.datetime, dt.datetime]]]:
    """Per therapist, the time held by visits the plan does not move: started, finished or out of its scope.

    These are the very ranges apply's overlap check (and PostgreSQL's exclusion constraint) compare
    against; once a visit starts they follow its recorded actual times (see visit_actions).
    """
    moved = [v.pk for v in visits if v.status != VisitStatus.IN_PROGRESS]
    rows = (
        Visit.objects.filter(organization=organization, date=day, status__in=ASSIGNED_STATUSES, therapist__isnull=False)
        .exclude(pk__in=moved)
        .values_list("therapist_id", "planned_start", "planned_busy_until")
    )
    held: dict[int, list[tuple[dt.datetime, dt.datetime]]] = {}
    for therapist_id, start, busy_until in rows:
        held.setdefault(therapist_id, []).append((start, busy_until))
    return held


def _problem_visit(
    v: Visit, *, midnight: dt.datetime, buffers: dict[str, int], allowed: frozenset[str] | None, working: set[str]
) -> optimizer.Visit | None:
    """One visit for the optimiser, or None when no window holds the session; ValueError for bad data."""
    windows = _start_windows(v, midnight)
    if not windows:
        return None
    fixed = v.therapist_id is not None and (v.pinned or v.status in FIXED_STATUSES) and str(v.therapist_id) in working
    pinned_start = minutes_after(v.planned_start, midnight) if fixed and v.planned_start else None
    if pinned_start is not None and not any(w.start_min <= pinned_start <= w.end_min for w in windows):
        # A booked time outside the windows (moved by an interruption, booked by hand) stays booked, at that
        # very minute: a minute later would be a re-plan moving it further outside (28-day simulation, seed 3).
        windows = tuple(sorted((*windows, optimizer.TimeWindow(pinned_start, pinned_start)), key=lambda w: w.start_min))
    return optimizer.Visit(
        id=str(v.pk),
        location=optimizer.Location(v.lat, v.lon),
        duration_min=v.duration_min,
        windows=windows,
        buffer_min=_buffer_min(v, buffers),
        required_skills=frozenset(s.code for s in v.required_skills.all()),
        allowed_therapists=allowed,
        forbidden_therapists=frozenset(str(t.pk) for t in v.patient.excluded_therapists.all()) & working,
        preferred_therapists=frozenset(str(t.pk) for t in v.patient.preferred_therapists.all()) & working,
        priority=PRIORITY[Priority(v.priority)],
        pinned_therapist=str(v.therapist_id) if fixed else None,
        pinned_start_min=pinned_start,
        site_id=f"facility-{v.facility_id}" if v.facility_id else None,
        overhead_min=v.facility.checkin_overhead_min if v.facility_id else 0,
        patient_id=f"patient-{v.patient_id}",
    )


def _buffer_min(visit: Visit, learned: dict[str, int]) -> int:
    if visit.buffer_min is not None:
        return visit.buffer_min
    if visit.facility_id and visit.facility.default_buffer_min is not None:
        return visit.facility.default_buffer_min
    # A learned buffer may lengthen what a plan reserves, never shorten it: applying the plan books the care
    # setting's buffer (effective_buffer_min), and a shorter reservation would overlap the next visit.
    return max(learned.get(visit.care_setting, 0), visit.effective_buffer_min)


def solution_assignments(*, solution: dict[str, Any], midnight: dt.datetime) -> list[Assignment]:
    """Dated assignments from a solution (as stored: ``Solution.to_dict()``)."""
    assignments = []
    for route in solution["routes"]:
        for stop in route["stops"]:
            start = midnight + dt.timedelta(minutes=stop["start_min"])
            assignments.append(Assignment(
                visit_id=int(stop["visit_id"]),
                therapist_id=int(route["therapist_id"]),
                planned_start=start,
                planned_end=midnight + dt.timedelta(minutes=stop["end_min"]),
                travel_min=round(stop["travel_min"]),
                travel_km=stop["travel_km"],
            ))
    return assignments
