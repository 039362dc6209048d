"""Which visits a calendar feed carries, and when that set last changed."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Max, Q, QuerySet
from django.utils import timezone

from dispatch.models import Facility, FeedToken, Organization, Therapist, User, Visit, VisitStatus

PAST_DAYS = 14
FUTURE_DAYS = 60
CANCELLED_KEPT_DAYS = 14


@dataclass(frozen=True)
class FeedRange:
    start: dt.datetime
    end: dt.datetime
    cancelled_since: dt.datetime


def feed_range(*, organization: Organization, now: dt.datetime | None = None) -> FeedRange:
    """Whole local days, so the feed changes with time only at midnight (Last-Modified stays honest)."""
    tz = organization.tz
    today = timezone.localtime(now or timezone.now(), tz).date()
    midnight = dt.datetime.combine(today, dt.time(0), tzinfo=tz)
    return FeedRange(
        start=midnight - dt.timedelta(days=PAST_DAYS),
        end=dt.datetime.combine(today + dt.timedelta(days=FUTURE_DAYS + 1), dt.time(0), tzinfo=tz),
        cancelled_since=midnight - dt.timedelta(days=CANCELLED_KEPT_DAYS),
    )


def _owner(therapist: Therapist | None, facility: Facility | None) -> tuple[Organization, Q, str, int]:
    assert (therapist is None) != (facility is None), "A feed belongs to one therapist or one facility."
    if therapist is not None:
        return therapist.organization, Q(therapist=therapist), "therapist_id", therapist.pk
    return facility.organization, Q(facility=facility), "facility_id", facility.pk


def feed_visit_list(
    *, therapist: Therapist | None = None, facility: Facility | None = None, now: dt.datetime | None = None
) -> QuerySet[Visit]:
    organization, owner, _, _ = _owner(therapist, facility)
    window = feed_range(organization=organization, now=now)
    return (
        Visit.objects.filter(owner, organization=organization)
        .exclude(status=VisitStatus.REQUESTED)
        .filter(planned_start__gte=window.start, planned_start__lt=window.end)
        .filter(~Q(status=VisitStatus.CANCELLED) | Q(updated_at__gte=window.cancelled_since))
        .select_related("organization", "patient", "facility", "therapist")
        .order_by("planned_start", "id")
    )


def feed_last_modified(
    *, therapist: Therapist | None = None, facility: Facility | None = None, now: dt.datetime | None = None
) -> dt.datetime:
    """The latest change to anything the feed shows, or the day's start if later.

    That is every visit that is or ever was in the feed (a visit moved to another therapist or facility
    leaves without touching the visits still in it; its history rows say it once belonged here), and
    the patients (initials), therapists and facilities those visits show. A client asking
    If-Modified-Since (without an ETag) must not be told 304 after a patient was renamed.
    """
    organization, owner, field, pk = _owner(therapist, facility)
    once_here = Visit.history.filter(**{field: pk}).values("id")
    visits = Visit.objects.filter(owner | Q(pk__in=once_here), organization=organization)
    latest = visits.aggregate(
        visit=Max("updated_at"),
        patient=Max("patient__updated_at"),
        therapist=Max("therapist__updated_at"),
        facility=Max("facility__updated_at"),
    )
    owner_obj = therapist if therapist is not None else facility
    day_start = feed_range(organization=organization, now=now).start + dt.timedelta(days=PAST_DAYS)
    return max(filter(None, [*latest.values(), owner_obj.updated_at, day_start]))


def feed_token_owner(
    *, therapist: Therapist | None = None, facility: Facility | None = None, user: User | None = None
) -> dict:
    """The filter for one feed slot: a therapist's, a facility's shared one, or one staff member's."""
    assert (therapist is None) != (facility is None), "A feed belongs to one therapist or one facility."
    if therapist is not None:
        assert user is None, "A therapist's feed is theirs; only facility feeds have one URL per staff member."
        return {"therapist": therapist}
    return {"facility": facility, "user": user}


def feed_token_active(
    *, therapist: Therapist | None = None, facility: Facility | None = None, user: User | None = None
) -> FeedToken | None:
    owner = feed_token_owner(therapist=therapist, facility=facility, user=user)
    return FeedToken.objects.filter(**owner, revoked_at__isnull=True).order_by("-created_at").first()


def feed_staff_token_count(*, facility: Facility) -> int:
    """How many staff members hold an active URL of their own to the facility's feed."""
    return FeedToken.objects.filter(facility=facility, user__isnull=False, revoked_at__isnull=True).count()
