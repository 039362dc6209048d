"""Therapists' hours on the day itself: a therapist who has to go home."""
from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db import transaction

from dispatch.models import AvailabilityException, ExceptionKind

if TYPE_CHECKING:
    from dispatch.models import Therapist, User

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
