"""Visit requests, their changes and weekly series."""
from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from dispatch.exceptions import ConflictError
from dispatch.models import OPEN_STATUSES, Priority, Therapist, Visit, VisitSeries, VisitStatus, VisitWindow
from dispatch.notifications.changes import change_set, changing
from dispatch.services.booking import booking_locks_take, visit_book
from dispatch.services.day_travel import day_travel_refresh
from dispatch.services.visit_actions import visit_set_pinned
from dispatch.services.visit_status import visit_transition

if TYPE_CHECKING:
    from collections.abc import Iterable

    from dispatch.models import Patient, Skill, Therapist, User

WINDOW_NOT_ON_DAY = "Window {number} ({start} to {end}) is not on {day} in {tz}."
WINDOW_ORDER = "The window must end after it starts."
WINDOW_TOO_SHORT = "Window {number} ({start} to {end}) lasts {length} min; the session needs {duration} min."
WINDOWS_OVERLAP = "Windows {first} and {second} overlap; give each time range once (join them into one window)."
WINDOWS_DUPLICATE = "Windows {first} and {second} are the same; give each time range once."
OUTSIDE_VISITING_HOURS = "Window {number} ({start} to {end}) is outside {facility}'s visiting hours {open}-{close}."
PATIENT_INACTIVE = "Patient {patient}'s record is closed (inactive); reopen it to request visits."
TOO_MANY_WINDOWS = "A visit may have at most {limit} windows; {count} were given."
SERIES_WINDOW_TOO_SHORT = "The window {start}–{end} lasts {length} min; the session needs {duration} min."
MAX_WINDOWS = 8
VISIT_CLOSED = "Visit {visit} is {status}; only an open visit can be changed."
ASSIGNMENT_INCOMPLETE = "A therapist and a planned start are both needed to assign visit {visit}."
SERIES_TOO_LONG = "A series may run at most {weeks} weeks; {starts_on} to {ends_on} is longer."
SERIES_NO_DAYS = "No day from {starts_on} to {ends_on} falls on the chosen weekdays."
MAX_SERIES_WEEKS = 26
# Changes to these move the visit in time or place: calendars and plans must notice (sequence).
TIME_PLACE_FIELDS = frozenset({"date", "duration_min", "buffer_min"})


def visit_location(*, patient: Patient) -> dict[str, Any]:
    """Where a visit to ``patient`` takes place: the facility with room and bed, or the home address."""
    if patient.facility_id is None:
        return {"facility": None, "location_text": patient.address, "lat": patient.lat, "lon": patient.lon}
    facility = patient.facility
    parts = [facility.name, patient.room and f"room {patient.room}", patient.bed and f"bed {patient.bed}"]
    place = ", ".join(part for part in parts if part)
    return {"facility": facility, "location_text": place, "lat": facility.lat, "lon": facility.lon}


# Still to happen: an in-progress visit is where the therapist already is.
TO_COME = (VisitStatus.REQUESTED, VisitStatus.SCHEDULED, VisitStatus.CONFIRMED)


def visits_follow_patient(*, patient: Patient, by: User | None) -> list[Visit]:
    """The patient's visits still to come, sent where the patient now is: a new room or bed, or a home address
    moved, reaches the therapist (app, feed, board) instead of the place written when the visit was requested.

    Only within the same facility, or home to home: a move to or from a facility changes who may see the request
    (facility staff see their facility's visits), so those visits stay as requested and are the coordinator's to
    change. A booked visit whose place moved has its travel counted again from the new place."""
    place = visit_location(patient=patient)
    moved: list[Visit] = []
    upcoming = Visit.objects.select_for_update(of=("self",)).filter(
        patient=patient, status__in=TO_COME, facility_id=place["facility"].pk if place["facility"] else None,
        date__gte=timezone.localdate(timezone=patient.organization.tz),
    )
    for visit in upcoming:
        if (visit.location_text, visit.lat, visit.lon) == (place["location_text"], place["lat"], place["lon"]):
            continue
        changing(visit)
        visit.location_text, visit.lat, visit.lon = place["location_text"], place["lat"], place["lon"]
        visit.sequence += 1  # calendars replace the event
        visit._change_reason = "the patient's place changed"
        visit._history_user = by
        visit.save()
        moved.append(visit)
    for therapist_id, day in {(v.therapist_id, v.date) for v in moved if v.therapist_id}:
        day_travel_refresh(therapist=Therapist.objects.get(pk=therapist_id), day=day, by=by)
    return moved


def windows_problems(*, windows: list[dict[str, dt.datetime]], day: dt.date, duration_min: int, tz) -> list[str]:
    """Why these windows cannot hold the visit: each on the day, long enough for the session, none overlapping.

    Overlapping windows are refused rather than merged: the caller meant something, and saying so
    beats guessing which range was meant.
    """
    if len(windows) > MAX_WINDOWS:
        return [TOO_MANY_WINDOWS.format(limit=MAX_WINDOWS, count=len(windows))]
    errors = []
    for number, window in enumerate(windows, start=1):
        start, end = window["start"], window["end"]
        names = {"number": number, "start": start.astimezone(tz).isoformat(), "end": end.astimezone(tz).isoformat()}
        if end <= start:
            errors.append(WINDOW_ORDER)
        # A window may end at midnight: its last instant is still on the visit's day.
        elif {start.astimezone(tz).date(), (end - dt.timedelta(microseconds=1)).astimezone(tz).date()} != {day}:
            errors.append(WINDOW_NOT_ON_DAY.format(day=day, tz=tz.key, **names))
        elif end - start < dt.timedelta(minutes=duration_min):
            length = int((end - start).total_seconds() // 60)
            errors.append(WINDOW_TOO_SHORT.format(length=length, duration=duration_min, **names))
    ordered = sorted(enumerate(windows, start=1), key=lambda item: (item[1]["start"], item[1]["end"]))
    for (a, first), (b, second) in zip(ordered, ordered[1:], strict=False):
        if (first["start"], first["end"]) == (second["start"], second["end"]):
            errors.append(WINDOWS_DUPLICATE.format(first=min(a, b), second=max(a, b)))
        elif second["start"] < first["end"]:
            errors.append(WINDOWS_OVERLAP.format(first=min(a, b), second=max(a, b)))
    return errors


def visiting_hours_problems(*, windows: list[dict[str, dt.datetime]], facility, tz) -> list[str]:
    """A facility's visiting hours bind the windows a visit there may have: the door is shut outside them."""
    if facility is None or facility.visiting_hours_start is None or facility.visiting_hours_end is None:
        return []
    errors = []
    opens, closes = facility.visiting_hours_start, facility.visiting_hours_end
    for number, window in enumerate(windows, start=1):
        start, end = window["start"].astimezone(tz), window["end"].astimezone(tz)
        # An end at midnight is the day's end, after any closing time.
        if start.time() < opens or end.date() > start.date() or end.time() > closes:
            errors.append(OUTSIDE_VISITING_HOURS.format(
                number=number, start=start.isoformat(), end=end.isoformat(), facility=facility.name,
                open=f"{opens:%H:%M}", close=f"{closes:%H:%M}",
            ))
    return errors


def _windows_replace(*, visit: Visit, windows: list[dict[str, dt.datetime]]) -> None:
    errors = windows_problems(windows=windows, day=visit.date, duration_min=visit.duration_min, tz=visit.organization.tz)
    errors = errors or visiting_hours_problems(windows=windows, facility=visit.facility, tz=visit.organization.tz)
    if errors:
        raise ValidationError({"windows": errors})
    visit.windows.all().delete()
    VisitWindow.objects.bulk_create(VisitWindow(visit=visit, start=w["start"], end=w["end"]) for w in windows)


REQUEST_READ_RELATIONS = ["organization", "patient", "facility", "requested_by", "series"]


@transaction.atomic
def visit_request_create(
    *,
    patient: Patient,
    date: dt.date,
    duration_min: int,
    windows: list[dict[str, dt.datetime]],
    required_skills: Iterable[Skill] = (),
    priority: str = Priority.ROUTINE,
    buffer_min: int | None = None,
    instructions: str = "",
    requested_by: User | None = None,
    series: VisitSeries | None = None,
) -> Visit:
    if not patient.active:
        raise ValidationError({"patient": [PATIENT_INACTIVE.format(patient=patient.pk)]})
    visit = Visit(
        organization=patient.organization,
        patient=patient,
        **visit_location(patient=patient),
        date=date,
        duration_min=duration_min,
        priority=priority,
        buffer_min=buffer_min,
        instructions=instructions,
        requested_by=requested_by,
        series=series,
    )
    visit._history_user = requested_by
    # The rows its foreign keys name were read in this request (the patient with its organisation and facility,
    # the signed-in user, the series): Django would check that each exists, a query apiece (4 of a facility
    # request's 25), and the database's foreign keys hold them anyway. Every other field and rule is checked.
    visit.full_clean(exclude=REQUEST_READ_RELATIONS, validate_unique=False, validate_constraints=False)
    visit.validate_unique()
    visit.validate_constraints()
    visit.save()
    visit.required_skills.set(required_skills)
    _windows_replace(visit=visit, windows=windows)
    return visit


@transaction.atomic
@change_set()
def visit_update(*, visit: Visit, by: User, **changes: Any) -> Visit:
    """Change what was asked; a new therapist or start goes through booking, so every booking rule holds."""
    rebooks = visit.therapist_id is not None and bool(changes.keys() & (TIME_PLACE_FIELDS | {"windows"}))
    if rebooks or "therapist" in changes or "planned_start" in changes:
        # The change may book the visit (visit_book): booking's locks first, in booking's order.
        target = changes.get("therapist")
        booking_locks_take(
            therapist_ids=(visit.therapist_id, target.pk if target is not None else None), patient_id=visit.patient_id
        )
    visit = Visit.objects.select_for_update(of=("self",)).select_related("organization", "facility").get(pk=visit.pk)
    changing(visit)
    if visit.status not in OPEN_STATUSES:
        raise ConflictError(VISIT_CLOSED.format(visit=visit.pk, status=visit.get_status_display().lower()))
    assignment = {key: changes.pop(key) for key in ("therapist", "planned_start") if key in changes}
    pinned = changes.pop("pinned", None)
    windows = changes.pop("windows", None)
    skills = changes.pop("required_skills", None)
    moved = windows is not None or any(
        getattr(visit, key) != value for key, value in changes.items() if key in TIME_PLACE_FIELDS
    )
    for key, value in changes.items():
        setattr(visit, key, value)
    if moved:
        visit.sequence += 1
        if visit.planned_start is not None:
            visit.planned_end = visit.planned_start + dt.timedelta(minutes=visit.duration_min)
            visit.planned_busy_until = visit.planned_end + dt.timedelta(minutes=visit.effective_buffer_min)
    visit._history_user = by
    visit.full_clean(exclude=["required_skills"])
    visit.save()
    if skills is not None:
        visit.required_skills.set(skills)
    if windows is not None or "date" in changes or "duration_min" in changes:
        # A new date with the old windows fails the same-day check: the caller must send new windows;
        # a longer session must still fit the windows it keeps.
        kept = windows if windows is not None else list(visit.windows.values("start", "end"))
        _windows_replace(visit=visit, windows=kept)
    visit = _visit_reassign(visit=visit, by=by, assignment=assignment, moved=moved)
    if pinned is not None and pinned != visit.pinned:
        visit = visit_set_pinned(visit=visit, pinned=pinned, by=by)
    return visit


def _visit_reassign(*, visit: Visit, by: User, assignment: dict[str, Any], moved: bool) -> Visit:
    if "therapist" in assignment and assignment["therapist"] is None:
        if visit.status == VisitStatus.REQUESTED:
            return visit
        held_by = visit.therapist
        visit = visit_transition(visit=visit, target=VisitStatus.REQUESTED, reason="unassigned by a coordinator")
        day_travel_refresh(therapist=held_by, day=visit.date, by=by)  # the next stop now comes from further back
        return visit
    if not assignment and not (moved and visit.therapist_id):
        return visit
    therapist: Therapist | None = assignment.get("therapist", visit.therapist)
    planned_start = assignment.get("planned_start", visit.planned_start)
    if therapist is None or planned_start is None:
        raise ValidationError({"planned_start": ASSIGNMENT_INCOMPLETE.format(visit=visit.pk)})
    return visit_book(visit=visit, therapist=therapist, planned_start=planned_start, by=by)


def _series_days(*, starts_on: dt.date, ends_on: dt.date, weekdays: Iterable[int]) -> list[dt.date]:
    wanted = set(weekdays)
    span = (ends_on - starts_on).days
    days = (starts_on + dt.timedelta(days=n) for n in range(span + 1))
    return [day for day in days if day.weekday() in wanted]


@transaction.atomic
def visit_series_create(
    *,
    patient: Patient,
    weekdays: list[int],
    window_start: dt.time,
    window_end: dt.time,
    duration_min: int,
    starts_on: dt.date,
    ends_on: dt.date,
    required_skills: Iterable[Skill] = (),
    priority: str = Priority.ROUTINE,
    buffer_min: int | None = None,
    instructions: str = "",
    created_by: User | None = None,
) -> VisitSeries:
    """The series and every visit request it makes, in one transaction."""
    if ends_on - starts_on >= dt.timedelta(weeks=MAX_SERIES_WEEKS):
        raise ValidationError(
            {"ends_on": SERIES_TOO_LONG.format(weeks=MAX_SERIES_WEEKS, starts_on=starts_on, ends_on=ends_on)}
        )
    series = VisitSeries(
        organization=patient.organization,
        patient=patient,
        weekdays=sorted(set(weekdays)),
        window_start=window_start,
        window_end=window_end,
        duration_min=duration_min,
        priority=priority,
        starts_on=starts_on,
        ends_on=ends_on,
        created_by=created_by,
    )
    series.full_clean(exclude=["created_by"])
    length = (_series_window(starts_on, window_end, end=True) - _series_window(starts_on, window_start)).seconds // 60
    if length < duration_min:
        raise ValidationError({"window_end": SERIES_WINDOW_TOO_SHORT.format(
            start=window_start.strftime("%H:%M"), end=window_end.strftime("%H:%M"), length=length, duration=duration_min
        )})
    days = _series_days(starts_on=starts_on, ends_on=ends_on, weekdays=series.weekdays)
    if not days:
        raise ValidationError({"weekdays": SERIES_NO_DAYS.format(starts_on=starts_on, ends_on=ends_on)})
    tz = patient.organization.tz
    window = {"start": _series_window(days[0], window_start, tz=tz), "end": _series_window(days[0], window_end, end=True, tz=tz)}
    facility = patient.facility if patient.facility_id else None
    if shut := visiting_hours_problems(windows=[window], facility=facility, tz=tz):
        # Said on the series' own fields (a series has no "windows"): the end if it starts inside the hours.
        field = "window_end" if window_start >= facility.visiting_hours_start else "window_start"
        raise ValidationError({field: shut})
    series.save()
    required_skills = list(required_skills)
    series.required_skills.set(required_skills)
    for day in days:
        visit_request_create(
            patient=patient,
            date=day,
            duration_min=duration_min,
            windows=[
                {
                    "start": _series_window(day, window_start, tz=tz),
                    "end": _series_window(day, window_end, end=True, tz=tz),
                }
            ],
            required_skills=required_skills,
            priority=priority,
            buffer_min=buffer_min,
            instructions=instructions,
            requested_by=created_by,
            series=series,
        )
    return series


def _series_window(day: dt.date, time: dt.time, *, end: bool = False, tz=None) -> dt.datetime:
    """A series' wall-clock time on one of its days; an end at 00:00 is that day's midnight, when it ends."""
    on = day + dt.timedelta(days=1) if end and time == dt.time(0) else day
    return dt.datetime.combine(on, time, tzinfo=tz)
