"""What therapists and coordinators do to a visit on the day itself."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from geopy.distance import geodesic

from dispatch.exceptions import ConflictError, DispatchError, TransitionNotAllowed
from dispatch.models import Visit, VisitStatus
from dispatch.lifecycle import can_transition
from dispatch.notifications.alerts import alert_check_in_far, alerts_for_therapist
from dispatch.notifications.changes import change_set, changing
from dispatch.services.booking import _hhmm, no_double_booking_check_now
from dispatch.services.day_travel import visit_leg
from dispatch.services.visit_status import visit_transition

if TYPE_CHECKING:
    from dispatch.models import User

CHECK_IN_DISTANCE_WARN_M = 500
CHECK_IN_FAR = "Checked in {distance_m} m from the visit's location ({location}); expected within {limit_m} m."
CHECK_OUT_BEFORE_CHECK_IN = "Visit {visit} cannot end at {at}, before it started at {started}."
AT_AHEAD_OF_THE_CLOCK = (
    "{at} is {ahead} ahead of the server's clock ({now}); the latest time accepted now is {latest}. "
    "Check the device's clock, or leave the time out to record now."
)
ALREADY_CHECKED_IN = "Visit {visit} is already under way (checked in at {at}); nothing was recorded."
ALREADY_CHECKED_OUT = "Visit {visit} is already completed (checked out at {at}); nothing was recorded."
NOT_UNDER_WAY = "Visit {visit} is {status}; lateness can only be reported for a visit still to come or under way."
LATE_NOT_TODAY = (
    "Visit {visit} is on {day}, and today is {today}: lateness is reported on the visit's day, as it happens. "
    "To move a visit of another day, ask the coordinator."
)
NOT_IN_PROGRESS = "Visit {visit} is {status}; an interruption can only be recorded during the session."
# Two pauses of one visit reported within this time are one report sent twice (a client retrying without an
# Idempotency-Key after a lost answer): a real second pause cannot be over before the first one is.
INTERRUPTION_REPEAT_WINDOW = dt.timedelta(seconds=90)
INTERRUPTION_REPEATED = (
    "The same interruption ({kind}, {minutes} min) of visit {visit} was recorded {ago} s ago; a resend is not "
    "counted twice. Report it again after a minute if it was a second one."
)
INTERRUPTION_PAST_THE_DAY = (
    "{minutes} more minutes would keep the therapist busy past midnight (visit {other} would end at {end} on "
    "{day}). Nothing was recorded: end the session, and ask the coordinator to re-plan the rest of the day."
)
UNBOOKED_PAST_THE_DAY = "Unbooked: the day ran late ({cause}), leaving no time for it before the end of {day}."
NOT_ASSIGNED = "Visit {visit} has no therapist and time to pin."
CHECK_IN_TOO_EARLY = (
    "Visit {visit} is planned for {start} on {day}; check-in opens {margin} before, at {opens}. "
    "Nothing was recorded."
)
NO_SHOW_TOO_EARLY = (
    "Visit {visit} is planned for {start} on {day}; a no-show can be recorded once check-in opens, {margin} "
    "before, at {opens}. Nothing was recorded."
)
CHECK_IN_TOO_LATE = "Visit {visit} was planned for {start} on {day}; check-in closed at {closes}. Nothing was recorded."
STILL_IN_ANOTHER = "Therapist {therapist} is still in visit {other} (checked in at {at}); check out of it first."
ENDED_EARLY = "Checked out after {spent} of a {duration}-minute session; flagged for the coordinator."


class InterruptionKind:
    PAUSED = "paused"
    EXTENDED = "extended"
    CHOICES = (PAUSED, EXTENDED)


@dataclass(frozen=True)
class CheckIn:
    visit: Visit
    distance_m: int | None
    warning: str | None


@dataclass(frozen=True)
class CheckOut:
    visit: Visit
    warning: str | None


@dataclass(frozen=True)
class Interruption:
    visit: Visit
    pushed: list[Visit]
    # Set when this was the same report again (a resend without its Idempotency-Key): nothing was recorded.
    repeated: str | None = None


def _lock(visit: Visit) -> Visit:
    """The visit locked, with what visit_transition(locked=True) and the push read of it."""
    return (
        Visit.objects.select_for_update(of=("self",)).select_related("organization", "facility", "therapist")
        .get(pk=visit.pk)
    )


def _day_end(visit: Visit) -> dt.datetime:
    return dt.datetime.combine(visit.date + dt.timedelta(days=1), dt.time(0), tzinfo=visit.organization.tz)


def check_in_window(visit: Visit) -> tuple[dt.datetime, dt.datetime]:
    """When check-in is accepted: from the configured margin before the planned start to the day's end."""
    opens = visit.planned_start - dt.timedelta(minutes=settings.ROUNDS_CHECK_IN_EARLY_MIN)
    day_end = _day_end(visit)
    late = settings.ROUNDS_CHECK_IN_LATE_MIN
    closes = day_end if late is None else min(day_end, visit.planned_start + dt.timedelta(minutes=late))
    return opens, closes


def _before_opening(visit: Visit, opens: dt.datetime, template: str, extra: dict[str, str]) -> ConflictError:
    """Check-in's and the no-show's refusal before check-in opens, in one voice."""
    tz = visit.organization.tz
    margin = dt.timedelta(minutes=settings.ROUNDS_CHECK_IN_EARLY_MIN)
    return ConflictError(
        template.format(
            visit=visit.pk, start=_hhmm(visit.planned_start, tz), day=visit.date, margin=_duration(margin),
            opens=_when(opens, tz),
        ),
        {"opens_at": opens.astimezone(tz).isoformat(), **extra},
    )


def _refuse_off_the_clock(visit: Visit, moment: dt.datetime) -> None:
    tz = visit.organization.tz
    opens, closes = check_in_window(visit)
    names = {"visit": visit.pk, "start": _hhmm(visit.planned_start, tz), "day": visit.date}
    if moment < opens:
        raise _before_opening(visit, opens, CHECK_IN_TOO_EARLY, {"closes_at": closes.astimezone(tz).isoformat()})
    # Against the server's clock as well: a check-in dated back into the window after it closed is a record
    # to correct, not a check-in.
    if max(moment, timezone.now()) >= closes:
        raise ConflictError(
            CHECK_IN_TOO_LATE.format(closes=_when(closes, tz), **names),
            {"opens_at": opens.astimezone(tz).isoformat(), "closes_at": closes.astimezone(tz).isoformat()},
        )
    under_way = (
        Visit.objects.filter(therapist_id=visit.therapist_id, status=VisitStatus.IN_PROGRESS).exclude(pk=visit.pk).first()
    )
    if under_way is not None:
        raise ConflictError(STILL_IN_ANOTHER.format(
            therapist=visit.therapist_id, other=under_way.pk, at=_when(under_way.actual_start, tz)
        ))


def _at_or_now(at: dt.datetime | None, *, tz) -> dt.datetime:
    """When an action happened: a past time is a phone syncing later; one ahead of the server is a wrong clock.

    Within the skew the action is taken to be happening now, so the record never holds a moment still to come.
    """
    now = timezone.now()
    if at is None:
        return now
    skew = dt.timedelta(minutes=settings.ROUNDS_CLOCK_SKEW_MIN)
    if at > now + skew:
        raise ValidationError({"at": AT_AHEAD_OF_THE_CLOCK.format(
            at=_instant(at, tz), ahead=_duration(at - now), now=_instant(now, tz), latest=_instant(now + skew, tz)
        )})
    return min(at, now)


def _repeated(visit: Visit, message: str, field: str, tz) -> TransitionNotAllowed:
    """A phone resending after a timeout, most likely: say what is on record, and record nothing more."""
    moment = getattr(visit, field)
    return TransitionNotAllowed(
        message.format(visit=visit.pk, at=_when(moment, tz) if moment else "an unrecorded time"),
        {"current": visit.status, field: moment.astimezone(tz).isoformat() if moment else None},
    )


def _instant(moment: dt.datetime, tz) -> str:
    return moment.astimezone(tz).isoformat(timespec="seconds")


def _when(moment: dt.datetime, tz) -> str:
    return moment.astimezone(tz).strftime("%H:%M on %Y-%m-%d")


def _duration(delta: dt.timedelta) -> str:
    seconds = round(delta.total_seconds())
    if seconds < 60:
        return f"{seconds} s"
    hours, minutes = divmod(seconds // 60, 60)
    if not hours:
        return f"{minutes} min"
    return f"{hours} h" + (f" {minutes} min" if minutes else "")


def _held_from(*, visit: Visit, start: dt.datetime, reason: str, by: User | None) -> list[Visit]:
    """What follows once the therapist's held time is what really happened, [start, end + buffer).

    The transition saves those times with the status (one row written, one history row). The optimiser (through
    the adapter and the re-plan) and apply's overlap check both read the held range, so recording the real times
    is what keeps them agreeing. Finished visits whose unused buffer the new range starts in give it up; open
    visits it now runs into move later.
    """
    for done in Visit.objects.select_for_update().filter(
        therapist_id=visit.therapist_id, status=VisitStatus.COMPLETED, planned_busy_until__gt=start,
        planned_start__lt=start,
    ).exclude(pk=visit.pk):
        if done.actual_end is not None and done.actual_end <= start:
            # Checked out before this began: a session of seconds held its first minute, which is the next one's.
            done.planned_end = min(done.planned_end, start)
        done.planned_busy_until = max(done.planned_end, start)
        done._change_reason = f"buffer released: visit {visit.pk} started at {_hhmm(start, visit.organization.tz)}"
        done.save(update_fields=["planned_end", "planned_busy_until", "updated_at"])
    pushed = _push_later_visits(visit=visit, by=by, cause=reason, unbook_past_the_day=True)
    no_double_booking_check_now(therapist=visit.therapist, start=visit.planned_start, end=visit.planned_busy_until)
    return pushed


@transaction.atomic
@change_set()  # visits pushed by the real times hear of it
def visit_check_in(
    *, visit: Visit, by: User, at: dt.datetime | None = None, lat: float | None = None, lon: float | None = None
) -> CheckIn:
    """Refused (409) outside the check-in window; the session's held time starts when the therapist does."""
    current = _lock(visit)
    tz = current.organization.tz
    at = _at_or_now(at, tz=tz)
    if current.status == VisitStatus.IN_PROGRESS:
        raise _repeated(current, ALREADY_CHECKED_IN, "actual_start", tz)
    if can_transition(current.status, VisitStatus.IN_PROGRESS):  # otherwise the lifecycle says why not
        _refuse_off_the_clock(current, at)
    # The held time starts now, saved with the status: one write of the row locked above.
    reason = f"checked in at {_hhmm(at, tz)}"
    visit = visit_transition(
        visit=current, target=VisitStatus.IN_PROGRESS, at=at, locked=True, history_reason=reason, by=by,
        planned_start=at, planned_end=at + dt.timedelta(minutes=current.duration_min),
    )
    _held_from(visit=visit, start=at, reason=reason, by=by)
    if lat is None or lon is None:
        return CheckIn(visit=visit, distance_m=None, warning=None)
    distance_m = round(geodesic((lat, lon), (visit.lat, visit.lon)).meters)
    warning = None
    if distance_m > CHECK_IN_DISTANCE_WARN_M:
        warning = CHECK_IN_FAR.format(distance_m=distance_m, location=visit.location_text, limit_m=CHECK_IN_DISTANCE_WARN_M)
        alert_check_in_far(visit=visit, distance_m=distance_m)
    return CheckIn(visit=visit, distance_m=distance_m, warning=warning)


@transaction.atomic
@change_set()  # visits pushed by the real times hear of it
def visit_check_out(*, visit: Visit, by: User, at: dt.datetime | None = None) -> CheckOut:
    """Completes the visit at ``at``; before the minimum share of the session it is flagged ``ended_early``."""
    current = _lock(visit)
    tz = current.organization.tz
    at = _at_or_now(at, tz=tz)
    if current.status == VisitStatus.COMPLETED:
        raise _repeated(current, ALREADY_CHECKED_OUT, "actual_end", tz)
    if current.actual_start and at < current.actual_start:
        raise ValidationError({"at": CHECK_OUT_BEFORE_CHECK_IN.format(
            visit=visit.pk, at=_instant(at, tz), started=_instant(current.actual_start, tz)
        )})
    started = end = warning = None
    if can_transition(current.status, VisitStatus.COMPLETED):  # otherwise the lifecycle says why not
        started = current.actual_start or current.planned_start
        spent = at - started
        if spent < dt.timedelta(minutes=current.duration_min * settings.ROUNDS_CHECK_OUT_MIN_SHARE):
            warning = ENDED_EARLY.format(spent=_duration(spent), duration=current.duration_min)
            current.ended_early = True
        # The held range ends at the check-out (a session of seconds still holds its first minute), saved with the
        # status: one write of the row locked above.
        end = max(at, started + dt.timedelta(minutes=1))
    reason = f"checked out at {_hhmm(at, tz)}"
    visit = visit_transition(
        visit=current, target=VisitStatus.COMPLETED, at=at, reason=warning or "", locked=True,
        history_reason=reason, by=by, planned_start=started, planned_end=end,
    )
    _held_from(visit=visit, start=started, reason=reason, by=by)
    return CheckOut(visit=visit, warning=warning)


@transaction.atomic
def visit_report_late(*, visit: Visit, minutes: int, by: User, at: dt.datetime | None = None) -> Visit:
    """Record the delay and when it was reported; times change only through the re-plan it triggers."""
    visit = _lock(visit)
    at = _at_or_now(at, tz=visit.organization.tz)
    if visit.status not in (VisitStatus.SCHEDULED, VisitStatus.CONFIRMED, VisitStatus.IN_PROGRESS):
        raise ConflictError(NOT_UNDER_WAY.format(visit=visit.pk, status=visit.get_status_display().lower()))
    # A delay is news about the day under way: the re-plan it asks for starts from now, and a delay on a day still
    # to come would hold the therapist back from a moment that has nothing to do with it.
    today = timezone.localdate(timezone.now(), visit.organization.tz)
    if visit.date != today:
        raise ConflictError(LATE_NOT_TODAY.format(visit=visit.pk, day=visit.date, today=today))
    visit.delay_min = minutes
    visit.delay_reported_at = at
    visit._change_reason = f"late: {minutes} min"
    visit._history_user = by
    visit.save(update_fields=["delay_min", "delay_reported_at", "updated_at"])
    alerts_for_therapist(visit=visit)
    return visit


def _shift(*, visit: Visit, start_by: dt.timedelta, end_by: dt.timedelta, reason: str, by: User) -> Visit:
    changing(visit)
    visit.planned_start += start_by
    visit.planned_end += end_by
    visit.planned_busy_until += end_by
    visit.sequence += 1
    visit._change_reason = reason
    visit._history_user = by
    visit.save()
    return visit


def _push_later_visits(
    *, visit: Visit, by: User | None, cause: str | None = None, unbook_past_the_day: bool = False
) -> list[Visit]:
    """Move the therapist's open visits that ``visit`` now runs into just enough that each starts once the
    previous one is over and the therapist has travelled there (as the optimiser counts travel and check-in).

    ``unbook_past_the_day``: a visit the push would carry past midnight goes back to the requests instead. A real
    time (a check-out in the evening, a late check-in) cannot be refused as an interruption report is, and a visit
    of this day held on the next would sit outside every window and shift, and run into the next day's visits.
    """
    pushed: list[Visit] = []
    day_end = _day_end(visit)
    speed_kmh = visit.therapist.speed_kmh
    following = Visit.objects.select_for_update(of=("self",)).select_related("facility").filter(
        therapist_id=visit.therapist_id,
        date=visit.date,
        status__in=(VisitStatus.SCHEDULED, VisitStatus.CONFIRMED),
        planned_busy_until__gt=visit.planned_start,
    ).exclude(pk=visit.pk).order_by("planned_start")
    previous = visit
    cause = cause or f"an interruption of visit {visit.pk}"
    for later in following:
        free_at = previous.planned_busy_until + dt.timedelta(
            minutes=visit_leg(before=previous, after=later, speed_kmh=speed_kmh).total_min
        )
        # Whole minutes, as plans book: a check-in at 09:00:40 pushes the next visit to 09:46, not 09:45:40, so a
        # re-plan that keeps it keeps it exactly (and does not re-time it by seconds, outside its window).
        if free_at.second or free_at.microsecond:
            free_at = free_at.replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
        if later.planned_start >= free_at:
            break
        shift = free_at - later.planned_start
        if unbook_past_the_day and later.planned_busy_until + shift > day_end:
            visit_transition(visit=later, target=VisitStatus.REQUESTED, reason=UNBOOKED_PAST_THE_DAY.format(
                cause=cause, day=later.date
            ))
            continue
        reason = f"pushed {round(shift.total_seconds() / 60)} min by {cause}"
        pushed.append(_shift(visit=later, start_by=shift, end_by=shift, reason=reason, by=by))
        previous = later
    return pushed


@transaction.atomic
@change_set()
def visit_record_interruption(*, visit: Visit, minutes: int, kind: str, by: User) -> Interruption:
    """A pause or an extended session keeps the therapist longer; the visits after it are pushed back."""
    assert kind in InterruptionKind.CHOICES, f"kind {kind!r} is not one of {InterruptionKind.CHOICES}"
    visit = _lock(visit)
    if visit.status != VisitStatus.IN_PROGRESS:
        raise ConflictError(NOT_IN_PROGRESS.format(visit=visit.pk, status=visit.get_status_display().lower()))
    reason = f"interruption: {kind} {minutes} min"
    if earlier := _same_report_just_now(visit=visit, reason=reason, by=by):
        ago = round((timezone.now() - earlier).total_seconds())
        return Interruption(visit=visit, pushed=[], repeated=INTERRUPTION_REPEATED.format(
            kind=kind, minutes=minutes, visit=visit.pk, ago=ago))
    extra = dt.timedelta(minutes=minutes)
    visit = _shift(visit=visit, start_by=dt.timedelta(0), end_by=extra, reason=reason, by=by)
    pushed = _push_later_visits(visit=visit, by=by)
    _refuse_a_push_off_the_day(visit=visit, pushed=pushed, minutes=minutes)
    no_double_booking_check_now(therapist=visit.therapist, start=visit.planned_start, end=visit.planned_busy_until)
    return Interruption(visit=visit, pushed=pushed)


def _same_report_just_now(*, visit: Visit, reason: str, by: User) -> dt.datetime | None:
    """When the same person recorded the same interruption of this visit within the repeat window (its history
    row carries the reason), the time they did."""
    return (
        visit.history.filter(
            history_change_reason=reason, history_user_id=by.pk,
            history_date__gte=timezone.now() - INTERRUPTION_REPEAT_WINDOW,
        )
        .order_by("-history_date")
        .values_list("history_date", flat=True)
        .first()
    )


def _refuse_a_push_off_the_day(*, visit: Visit, pushed: list[Visit], minutes: int) -> None:
    """The push moves the day's visits only: pushed past midnight they would run into the next day's, which it never
    looks at (and SQLite has no exclusion constraint to catch that). Refused; the transaction undoes the push."""
    moved = [visit, *pushed]
    if (last := max(moved, key=lambda v: v.planned_busy_until)).planned_busy_until > _day_end(visit):
        end = last.planned_busy_until.astimezone(visit.organization.tz)
        raise ConflictError(INTERRUPTION_PAST_THE_DAY.format(
            minutes=minutes, other=last.pk, end=end.strftime("%H:%M"), day=end.date()
        ))


@transaction.atomic
def visit_cancel(*, visit: Visit, reason: str, by: User) -> Visit:
    return visit_transition(visit=visit, target=VisitStatus.CANCELLED, reason=reason)


@transaction.atomic
def visit_mark_no_show(*, visit: Visit, reason: str, by: User) -> Visit:
    """The patient was not there: something only known once the visit could have begun.

    Before check-in opens nobody can have found the patient absent; the visit is still to come, and
    what is meant is a cancellation (the same opening as check-in, for therapists and coordinators).
    """
    visit = _lock(visit)
    if visit.planned_start is not None:
        opens, _ = check_in_window(visit)
        if timezone.now() < opens:
            raise _before_opening(visit, opens, NO_SHOW_TOO_EARLY, {})
    return visit_transition(visit=visit, target=VisitStatus.NO_SHOW, reason=reason)


@transaction.atomic
def visit_set_pinned(*, visit: Visit, pinned: bool, by: User) -> Visit:
    visit = _lock(visit)
    if pinned and (visit.therapist_id is None or visit.planned_start is None):
        raise DispatchError(NOT_ASSIGNED.format(visit=visit.pk))
    visit.pinned = pinned
    visit._history_user = by
    visit.save(update_fields=["pinned", "updated_at"])
    return visit
