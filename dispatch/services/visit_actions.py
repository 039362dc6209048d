"""What therapists and coordinators do to a visit on the day itself."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone
from geopy.distance import geodesic

from dispatch.exceptions import ConflictError, DispatchError
from dispatch.models import Visit, VisitStatus
from dispatch.notifications.alerts import alert_check_in_far, alerts_for_therapist
from dispatch.notifications.changes import change_set, changing
from dispatch.services.booking import no_double_booking_check_now
from dispatch.services.visit_status import visit_transition

if TYPE_CHECKING:
    from dispatch.models import User

CHECK_IN_DISTANCE_WARN_M = 500
CHECK_IN_FAR = "Checked in {distance_m} m from the visit's location ({location}); expected within {limit_m} m."
CHECK_OUT_BEFORE_CHECK_IN = "Visit {visit} cannot end at {at}, before it started at {started}."
NOT_UNDER_WAY = "Visit {visit} is {status}; lateness can only be reported for a visit still to come or under way."
NOT_IN_PROGRESS = "Visit {visit} is {status}; an interruption can only be recorded during the session."
NOT_ASSIGNED = "Visit {visit} has no therapist and time to pin."


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
class Interruption:
    visit: Visit
    pushed: list[Visit]


def _lock(visit: Visit) -> Visit:
    return Visit.objects.select_for_update(of=("self",)).select_related("organization", "facility").get(pk=visit.pk)


@transaction.atomic
def visit_check_in(
    *, visit: Visit, by: User, at: dt.datetime | None = None, lat: float | None = None, lon: float | None = None
) -> CheckIn:
    visit = visit_transition(visit=visit, target=VisitStatus.IN_PROGRESS, at=at)
    if lat is None or lon is None:
        return CheckIn(visit=visit, distance_m=None, warning=None)
    distance_m = round(geodesic((lat, lon), (visit.lat, visit.lon)).meters)
    warning = None
    if distance_m > CHECK_IN_DISTANCE_WARN_M:
        warning = CHECK_IN_FAR.format(distance_m=distance_m, location=visit.location_text, limit_m=CHECK_IN_DISTANCE_WARN_M)
        alert_check_in_far(visit=visit, distance_m=distance_m)
    return CheckIn(visit=visit, distance_m=distance_m, warning=warning)


@transaction.atomic
def visit_check_out(*, visit: Visit, by: User, at: dt.datetime | None = None) -> Visit:
    at = at or timezone.now()
    current = _lock(visit)
    if current.actual_start and at < current.actual_start:
        raise DispatchError(CHECK_OUT_BEFORE_CHECK_IN.format(visit=visit.pk, at=at, started=current.actual_start))
    return visit_transition(visit=current, target=VisitStatus.COMPLETED, at=at)


@transaction.atomic
def visit_report_late(*, visit: Visit, minutes: int, by: User, at: dt.datetime | None = None) -> Visit:
    """Record the delay and when it was reported; times change only through the re-plan it triggers."""
    visit = _lock(visit)
    if visit.status not in (VisitStatus.SCHEDULED, VisitStatus.CONFIRMED, VisitStatus.IN_PROGRESS):
        raise ConflictError(NOT_UNDER_WAY.format(visit=visit.pk, status=visit.get_status_display().lower()))
    visit.delay_min = minutes
    visit.delay_reported_at = at or timezone.now()
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


def _push_later_visits(*, visit: Visit, by: User) -> list[Visit]:
    """Move the therapist's next visits just enough that none starts before the previous one is free."""
    pushed: list[Visit] = []
    free_at = visit.planned_busy_until
    following = Visit.objects.select_for_update().filter(
        therapist_id=visit.therapist_id,
        date=visit.date,
        status__in=(VisitStatus.SCHEDULED, VisitStatus.CONFIRMED),
        planned_start__gte=visit.planned_start,
    ).exclude(pk=visit.pk).order_by("planned_start")
    for later in following:
        if later.planned_start >= free_at:
            break
        shift = free_at - later.planned_start
        reason = f"pushed {round(shift.total_seconds() / 60)} min by an interruption of visit {visit.pk}"
        pushed.append(_shift(visit=later, start_by=shift, end_by=shift, reason=reason, by=by))
        free_at = later.planned_busy_until
    return pushed


@transaction.atomic
@change_set()
def visit_record_interruption(*, visit: Visit, minutes: int, kind: str, by: User) -> Interruption:
    """A pause or an extended session keeps the therapist longer; the visits after it are pushed back."""
    assert kind in InterruptionKind.CHOICES, f"kind {kind!r} is not one of {InterruptionKind.CHOICES}"
    visit = _lock(visit)
    if visit.status != VisitStatus.IN_PROGRESS:
        raise ConflictError(NOT_IN_PROGRESS.format(visit=visit.pk, status=visit.get_status_display().lower()))
    extra = dt.timedelta(minutes=minutes)
    visit = _shift(visit=visit, start_by=dt.timedelta(0), end_by=extra, reason=f"interruption: {kind} {minutes} min", by=by)
    pushed = _push_later_visits(visit=visit, by=by)
    no_double_booking_check_now(therapist=visit.therapist, start=visit.planned_start, end=visit.planned_busy_until)
    return Interruption(visit=visit, pushed=pushed)


@transaction.atomic
def visit_cancel(*, visit: Visit, reason: str, by: User) -> Visit:
    return visit_transition(visit=visit, target=VisitStatus.CANCELLED, reason=reason)


@transaction.atomic
def visit_mark_no_show(*, visit: Visit, reason: str, by: User) -> Visit:
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
