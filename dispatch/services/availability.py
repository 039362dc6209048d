"""Therapists' hours: a therapist who has to go home, and changes to the hours they work."""
from __future__ import annotations

import datetime as dt
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from dispatch.models import AvailabilityException, ExceptionKind, Therapist, Visit, VisitStatus, WeeklyAvailability
from dispatch.notifications.changes import change_set
from dispatch.services.booking import therapist_shifts_on
from dispatch.services.records import record_save, visits_unbook

if TYPE_CHECKING:
    from collections.abc import Iterator

    from dispatch.models import User

END_NOT_AFTER_START = "The therapist is back at {end}, not after going off at {start}."


@transaction.atomic
def therapist_mark_off(
    *, therapist: Therapist, start: dt.datetime, end: dt.time | None, note: str, by: User | None
) -> AvailabilityException:
    """Time off from ``start`` (local) until ``end`` or the end of that day; their later visits need a re-plan."""
    local = start.astimezone(therapist.organization.tz)
    start_time = local.time().replace(second=0, microsecond=0)
    end_time = end or dt.time.max
    if end_time <= start_time:
        raise ValidationError({"end": END_NOT_AFTER_START.format(end=end_time, start=start_time)})
    off = AvailabilityException(
        therapist=therapist, date=local.date(), kind=ExceptionKind.TIME_OFF,
        start_time=start_time, end_time=end_time, note=note,
    )
    off.full_clean()
    off.save()
    return off


UNBOOKED_NOT_WORKING = "Unbooked: {name} is no longer working then; the visit is open to plan again."
STILL_TO_COME = (VisitStatus.SCHEDULED, VisitStatus.CONFIRMED)


def _booked_fitting(*, therapist_ids: set[int]) -> dict[int, set[int]]:
    """Per therapist, their visits booked from today on that fit inside their shifts as these stand now."""
    fitting: dict[int, set[int]] = {}
    therapists = Therapist.objects.filter(pk__in=therapist_ids).select_related("organization").prefetch_related(
        "weekly_availability", "availability_exceptions"
    )
    for therapist in therapists:
        today = timezone.localdate(timezone.now(), therapist.organization.tz)
        shifts: dict[dt.date, list] = {}
        fitting[therapist.pk] = set()
        for visit in Visit.objects.filter(therapist=therapist, status__in=STILL_TO_COME, date__gte=today):
            if visit.date not in shifts:
                shifts[visit.date] = therapist_shifts_on(therapist=therapist, day=visit.date)
            if any(s <= visit.planned_start and visit.planned_busy_until <= e for s, e in shifts[visit.date]):
                fitting[therapist.pk].add(visit.pk)
    return fitting


def _therapist_ids(instance: WeeklyAvailability | AvailabilityException) -> set[int]:
    ids = {instance.therapist_id} if instance.therapist_id else set()
    if instance.pk:  # a change may move the hours to another therapist: the first one loses them
        ids |= set(type(instance).objects.filter(pk=instance.pk).values_list("therapist_id", flat=True))
    return ids


@contextmanager
def unbooking_what_no_longer_fits(*, therapist_ids: set[int], by: User | None) -> Iterator[None]:
    """A booked visit must fit its therapist's shifts (booking refuses one that does not): hours taken away by a
    change to the weekly pattern or an exception send the visits they held back to the requests, with the reason,
    in the change's transaction, as switching the therapist off does. Visits already outside (pushed by a delay)
    are left as they were; a session under way is not touched."""
    # The therapist rows are locked first, as booking locks them: no booking checks the old hours meanwhile.
    list(Therapist.objects.select_for_update().filter(pk__in=therapist_ids).order_by("pk").values_list("pk"))
    before = _booked_fitting(therapist_ids=therapist_ids)
    yield
    after = _booked_fitting(therapist_ids=therapist_ids)
    lost = set().union(*(fitted - after.get(therapist_id, set()) for therapist_id, fitted in before.items()))
    if lost:
        visits = Visit.objects.filter(pk__in=lost).select_related("therapist").order_by("planned_start")
        visits_unbook(visits=visits, reason=UNBOOKED_NOT_WORKING, by=by)


@transaction.atomic
@change_set()  # the unbooked visits' facilities and the coordinators hear of it
def availability_save(
    *, instance: WeeklyAvailability | AvailabilityException, fields: dict[str, Any], by: User | None = None
) -> WeeklyAvailability | AvailabilityException:
    """Create or change a weekly period or an exception; what the therapist no longer works is unbooked."""
    therapist_ids = _therapist_ids(instance) | ({fields["therapist"].pk} if fields.get("therapist") else set())
    with unbooking_what_no_longer_fits(therapist_ids=therapist_ids, by=by):
        instance = record_save(instance=instance, fields=fields, by=by)
    return instance


@transaction.atomic
@change_set()
def availability_delete(*, instance: WeeklyAvailability | AvailabilityException, by: User | None = None) -> None:
    """Delete a weekly period or an extra shift; the visits booked in it are unbooked."""
    with unbooking_what_no_longer_fits(therapist_ids=_therapist_ids(instance), by=by):
        instance.delete()
