"""Booking a therapist's time: no therapist ever holds two overlapping visits.

The held range of a visit is [planned_start, planned_busy_until): the session plus its
interruption buffer. PostgreSQL enforces it with the deferred exclusion constraint of
migration 0003; the booking turns it immediate so a clash is raised here, as SlotTaken,
and not at commit. SQLite has no such constraint: bookings are serialised per therapist
by locking the therapist row, then an overlap query decides.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import TYPE_CHECKING

from django.db import IntegrityError, connection, transaction
from django.db.models import QuerySet

from dispatch.exceptions import DispatchError, SlotTaken, TransitionNotAllowed
from dispatch.models import ASSIGNED_STATUSES, ExceptionKind, Gender, Patient, Therapist, Visit, VisitStatus
from dispatch.notifications.changes import change_set, changing
from dispatch.selectors.coverage import referral_problem, units_problem
from dispatch.services.day_travel import day_travel_refresh, travel_problems
from dispatch.services.visit_status import visit_transition

if TYPE_CHECKING:
    from dispatch.models import User

SLOT_TAKEN = "Therapist {therapist} already has visit {other} from {start} to {end} (buffer included)."
SLOT_TAKEN_AT_COMMIT = "Therapist {therapist} already has a visit overlapping {start}–{end}."
PATIENT_BOOKED_THEN = (
    "The patient is already booked then: visit {other} with therapist {therapist} from {start} to {end}."
)
BOOKING_REFUSED = "Visit {visit} cannot be given to therapist {therapist} at {start}."
NOT_BOOKABLE = "Visit {visit} is {status}; only requested, scheduled or confirmed visits can be booked."
THERAPIST_INACTIVE = "Therapist {therapist} is not active."
OTHER_ORGANIZATION = "Therapist {therapist} belongs to another organisation."
WRONG_DAY = "Visit {visit} is for {day}; {start} is on another day."
MISSING_SKILLS = "Therapist {therapist} lacks the skills {skills} that visit {visit} needs."
MISSING_CREDENTIAL = "Therapist {therapist} holds no {credential} credential valid on {day}, which {facility} requires."
OUTSIDE_DOOR = "Visit {visit} would run {start}–{end}, outside {facility}'s visiting hours, {opens}–{closes}."
OUTSIDE_WINDOWS = "Visit {visit} would run {start}–{end}, outside every window it may take place in."
OUTSIDE_SHIFT = "Therapist {therapist} is not available {start}–{end} on {day}."
EXCLUDED_BY_PATIENT = "The patient of visit {visit} has asked not to be seen by therapist {therapist}."
WRONG_GENDER = "The patient of visit {visit} needs a {gender} therapist; therapist {therapist} is not."
NO_COMMON_LANGUAGE = "The patient of visit {visit} needs a therapist who speaks {language}; therapist {therapist} does not."


def _hhmm(moment: dt.datetime, tz) -> str:
    return moment.astimezone(tz).strftime("%H:%M")


def visit_overlapping(
    *, therapist: Therapist, start: dt.datetime, busy_until: dt.datetime, exclude_visit_id: int | None = None
) -> QuerySet[Visit]:
    """The therapist's held visits whose [planned_start, planned_busy_until) meets [start, busy_until)."""
    qs = Visit.objects.filter(
        therapist=therapist,
        status__in=ASSIGNED_STATUSES,
        planned_start__lt=busy_until,
        planned_busy_until__gt=start,
    )
    return qs.exclude(pk=exclude_visit_id) if exclude_visit_id else qs


def patient_overlapping(*, visit: Visit, start: dt.datetime, end: dt.datetime) -> QuerySet[Visit]:
    """The patient's other held visits whose session [planned_start, planned_end) meets [start, end): one person
    cannot have two sessions at once, whoever gives them."""
    return Visit.objects.filter(
        patient_id=visit.patient_id, status__in=ASSIGNED_STATUSES, planned_start__lt=end, planned_end__gt=start,
    ).exclude(pk=visit.pk)


def therapist_shifts_on(*, therapist: Therapist, day: dt.date) -> list[tuple[dt.datetime, dt.datetime]]:
    """The therapist's working periods on ``day`` as aware datetimes: weekly pattern, time off, extra shifts."""
    tz = therapist.organization.tz
    # .all() then filter here: uses a prefetch when the caller made one (the schedule, the planner).
    exceptions = [e for e in therapist.availability_exceptions.all() if e.date == day]
    if any(e.kind == ExceptionKind.TIME_OFF and e.start_time is None for e in exceptions):
        periods: list[tuple[dt.time, dt.time]] = []
    else:
        periods = [(a.start_time, a.end_time) for a in therapist.weekly_availability.all() if a.weekday == day.weekday()]
    periods += [(e.start_time, e.end_time) for e in exceptions if e.kind == ExceptionKind.EXTRA_SHIFT]
    shifts = [(dt.datetime.combine(day, s, tzinfo=tz), dt.datetime.combine(day, e, tzinfo=tz)) for s, e in periods]
    time_off = [
        (dt.datetime.combine(day, off.start_time, tzinfo=tz), dt.datetime.combine(day, off.end_time, tzinfo=tz))
        for off in exceptions
        if off.kind == ExceptionKind.TIME_OFF and off.start_time is not None
    ]
    return shifts_without(shifts=shifts, taken=time_off)


def shifts_without(
    *, shifts: list[tuple[dt.datetime, dt.datetime]], taken: list[tuple[dt.datetime, dt.datetime]]
) -> list[tuple[dt.datetime, dt.datetime]]:
    """The working periods left once every ``taken`` period (time off, time already spent) is cut out."""
    for off_start, off_end in taken:
        cut: list[tuple[dt.datetime, dt.datetime]] = []
        for s, e in shifts:
            if off_end <= s or off_start >= e:
                cut.append((s, e))
                continue
            if s < off_start:
                cut.append((s, off_start))
            if off_end < e:
                cut.append((off_end, e))
        shifts = cut
    # An extra shift may overlap the weekly one: one period, not two (the day's end is the later end).
    merged: list[tuple[dt.datetime, dt.datetime]] = []
    for s, e in sorted(shifts):
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((s, e))
    return merged


def visit_assignment_problems(*, visit: Visit, therapist: Therapist, planned_start: dt.datetime) -> list[str]:
    """Every rule that giving ``visit`` to ``therapist`` at ``planned_start`` would break, overlaps aside."""
    tz = visit.organization.tz
    planned_end = planned_start + dt.timedelta(minutes=visit.duration_min)
    busy_until = planned_end + dt.timedelta(minutes=visit.effective_buffer_min)
    names = {"visit": visit.pk, "therapist": therapist.pk, "start": _hhmm(planned_start, tz), "end": _hhmm(planned_end, tz)}
    problems: list[str] = []
    if therapist.organization_id != visit.organization_id:
        return [OTHER_ORGANIZATION.format(**names)]
    if not therapist.active:
        problems.append(THERAPIST_INACTIVE.format(**names))
    wrong_day = planned_start.astimezone(tz).date() != visit.date
    if wrong_day:
        problems.append(WRONG_DAY.format(day=visit.date, **names))
    problems += qualification_problems(visit=visit, therapist=therapist)
    windows = list(visit.windows.all())
    if windows and not any(w.start <= planned_start and planned_end <= w.end for w in windows):
        problems.append(OUTSIDE_WINDOWS.format(**names))
    if door := visiting_hours_of(visit):
        if not (door[0] <= planned_start and planned_end <= door[1]):
            problems.append(OUTSIDE_DOOR.format(
                facility=visit.facility.name, opens=_hhmm(door[0], tz), closes=_hhmm(door[1], tz), **names
            ))
    # The visit's day's shifts say nothing of a time on another day ("not available 10:00 on <its day>").
    if not wrong_day:
        shifts = therapist_shifts_on(therapist=therapist, day=visit.date)
        if not any(s <= planned_start and busy_until <= e for s, e in shifts):
            problems.append(OUTSIDE_SHIFT.format(day=visit.date, end=_hhmm(busy_until, tz), **{
                k: v for k, v in names.items() if k != "end"
            }))
        elif visit.lat is not None and visit.lon is not None:
            problems += travel_problems(
                visit=visit, therapist=therapist, planned_start=planned_start, busy_until=busy_until, shifts=shifts
            )
    # The planner leaves these out (optimizer_adapter); a booking by hand must not slip them in.
    problems += [p for p in (referral_problem(patient=visit.patient, day=visit.date), units_problem(visit=visit)) if p]
    return problems + patient_needs_problems(visit=visit, therapist=therapist)


def visiting_hours_of(visit: Visit) -> tuple[dt.datetime, dt.datetime] | None:
    """The visit's facility's visiting hours on its day, as they are now (None at home or where none are kept)."""
    return visit.facility.visiting_hours_on(visit.date, visit.organization.tz) if visit.facility_id else None


def qualification_problems(*, visit: Visit, therapist: Therapist) -> list[str]:
    """The skills the visit needs and the credentials its facility requires on its day that ``therapist`` lacks."""
    names = {"visit": visit.pk, "therapist": therapist.pk}
    problems = []
    missing = set(visit.required_skills.values_list("code", flat=True)) - set(
        therapist.skills.values_list("code", flat=True)
    )
    if missing:
        problems.append(MISSING_SKILLS.format(skills=", ".join(sorted(missing)), **names))
    if visit.facility_id:
        held = {
            c.credential_type_id
            for c in therapist.credentials.all()
            if c.expires_on is None or c.expires_on >= visit.date
        }
        for credential in visit.facility.required_credentials.all():
            if credential.pk not in held:
                problems.append(
                    MISSING_CREDENTIAL.format(
                        credential=credential.code, day=visit.date, facility=visit.facility.name, **names
                    )
                )
    return problems


def patient_needs_problems(*, visit: Visit, therapist: Therapist, excluded: bool | None = None) -> list[str]:
    """What of the patient's own wishes ``therapist`` would break: excluded, or not the gender or language needed.
    The planner treats these needs as hard (optimizer_adapter._eligible); a booking by hand must as well.
    ``excluded``, when the caller read the patient's exclusions for many visits at once, saves the query."""
    names = {"visit": visit.pk, "therapist": therapist.pk}
    problems = []
    if excluded is None:
        excluded = visit.patient.excluded_therapists.filter(pk=therapist.pk).exists()
    if excluded:
        problems.append(EXCLUDED_BY_PATIENT.format(**names))
    gender = visit.patient.preferred_therapist_gender
    if gender not in ("", Gender.UNSPECIFIED) and therapist.gender != gender:
        problems.append(WRONG_GENDER.format(gender=Gender(gender).label.lower(), **names))
    if visit.patient.language and visit.patient.language not in therapist.languages:
        problems.append(NO_COMMON_LANGUAGE.format(language=visit.patient.language, **names))
    return problems


def no_double_booking_check_now(*, therapist: Therapist, start: dt.datetime, end: dt.datetime) -> None:
    """On PostgreSQL, check the deferred exclusion constraint now so a clash raises SlotTaken here."""
    if connection.vendor != "postgresql":
        return
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS visit_no_double_booking IMMEDIATE")
    except IntegrityError as exc:
        tz = therapist.organization.tz
        raise SlotTaken(
            SLOT_TAKEN_AT_COMMIT.format(therapist=therapist.pk, start=_hhmm(start, tz), end=_hhmm(end, tz))
        ) from exc
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS visit_no_double_booking DEFERRED")


def booking_locks_take(*, therapist_ids: Iterable[int | None], patient_id: int) -> None:
    """Lock what a booking locks, in its order: therapists (by id), then the patient; the caller locks the visit
    after. A change that reads a visit and then books it (PATCH) takes these first: locking the visit first and
    the therapist later is the reverse of a booking's order, and two such changes at once would each wait for the
    other until PostgreSQL ended one of them (a deadlock)."""
    ids = sorted({pk for pk in therapist_ids if pk is not None})
    if ids:
        list(Therapist.objects.select_for_update().filter(pk__in=ids).order_by("pk").values_list("pk"))
    Patient.objects.select_for_update().filter(pk=patient_id).first()


@transaction.atomic
@change_set()
def visit_book(
    *, visit: Visit, therapist: Therapist, planned_start: dt.datetime, by: User | None = None, pin: bool = False
) -> Visit:
    """Give ``visit`` to ``therapist`` at ``planned_start``, or say why not (400 rules, 409 clashes)."""
    # The therapist row lock serialises every booking for one therapist (SQLite has no exclusion constraint); the
    # patient's serialises bookings of one patient with different therapists. Both come before the visit's, in the
    # order every change that books or unbooks takes them (booking_locks_take).
    therapist = Therapist.objects.select_for_update(of=("self",)).select_related("organization").get(pk=therapist.pk)
    Patient.objects.select_for_update().filter(pk=visit.patient_id).first()
    visit = Visit.objects.select_for_update(of=("self",)).select_related("organization", "facility", "patient").get(pk=visit.pk)
    changing(visit)
    if visit.status not in (VisitStatus.REQUESTED, VisitStatus.SCHEDULED, VisitStatus.CONFIRMED):
        raise TransitionNotAllowed(NOT_BOOKABLE.format(visit=visit.pk, status=visit.get_status_display().lower()))
    tz = visit.organization.tz
    before = (visit.therapist, visit.date)
    planned_end = planned_start + dt.timedelta(minutes=visit.duration_min)
    busy_until = planned_end + dt.timedelta(minutes=visit.effective_buffer_min)
    problems = visit_assignment_problems(visit=visit, therapist=therapist, planned_start=planned_start)
    clashes = [
        SLOT_TAKEN.format(
            therapist=therapist.pk, other=o.pk, start=_hhmm(o.planned_start, tz), end=_hhmm(o.planned_busy_until, tz)
        )
        for o in visit_overlapping(
            therapist=therapist, start=planned_start, busy_until=busy_until, exclude_visit_id=visit.pk
        )
    ]
    clashes += [
        PATIENT_BOOKED_THEN.format(
            other=o.pk, therapist=o.therapist_id, start=_hhmm(o.planned_start, tz), end=_hhmm(o.planned_end, tz)
        )
        # The same therapist's overlap is already said above, as theirs.
        for o in patient_overlapping(visit=visit, start=planned_start, end=planned_end).exclude(therapist=therapist)
    ]
    refusal = BOOKING_REFUSED.format(visit=visit.pk, therapist=therapist.pk, start=_hhmm(planned_start, tz))
    if problems:
        raise DispatchError(refusal, {"reasons": problems + clashes})
    if clashes:
        raise SlotTaken(refusal, {"reasons": clashes})
    if visit.status == VisitStatus.REQUESTED:
        visit = visit_transition(
            visit=visit,
            target=VisitStatus.SCHEDULED,
            therapist=therapist,
            planned_start=planned_start,
            planned_end=planned_end,
        )
    else:
        visit.therapist = therapist
        visit.planned_start, visit.planned_end, visit.planned_busy_until = planned_start, planned_end, busy_until
        visit.sequence += 1
        visit.pinned = visit.pinned or pin
        visit._history_user = by
        visit.full_clean(exclude=["required_skills"])
        visit.save()
    if pin and not visit.pinned:
        visit.pinned = True
        visit.save(update_fields=["pinned", "updated_at"])
    no_double_booking_check_now(therapist=therapist, start=planned_start, end=busy_until)
    # Travel as booked, here and at the stop after it; and on the day the visit left, if it moved.
    day_travel_refresh(therapist=therapist, day=visit.date, by=by)
    if before[0] is not None and before[0].pk != therapist.pk:
        day_travel_refresh(therapist=before[0], day=before[1], by=by)
    visit.refresh_from_db()
    return visit
