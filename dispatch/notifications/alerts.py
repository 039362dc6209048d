"""Alerts for coordinators: late visits, visits at risk of missing their window, far-away check-ins.

Late: no check-in ROUNDS_LATE_AFTER_MIN minutes after the planned start (plus any delay the therapist
reported). At risk: the day played forward from where each therapist is now (the re-plan's view:
their visit under way, their reported delay) makes a later visit start or end outside every window
it may take place in - said before it happens. Each alert is keyed on the visit and its sequence, so
the minute job finds it again every minute but tells it once; a re-planned visit may be told again.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from dispatch.models import Notification, Organization, Role, User, Visit, VisitStatus, WebhookEvent
from dispatch.notifications.content import visit_item
from dispatch.notifications.outbox import outbox_write_many, webhook_events_write_many

HELD = (VisitStatus.SCHEDULED, VisitStatus.CONFIRMED)


def alert_send(*, visit: Visit, event: str, key: str, webhook: str | None = None, **extra) -> bool:
    """Tell every coordinator of the visit's organisation; False when this alert was told already."""
    return bool(alerts_send([Alert(visit=visit, event=event, key=key, webhook=webhook, extra=extra)]))


@dataclass(frozen=True)
class Alert:
    visit: Visit
    event: str
    key: str
    webhook: str | None = None
    extra: dict = field(default_factory=dict)


def alerts_send(alerts: list[Alert]) -> int:
    """Tell every coordinator of each alert's organisation, in one batch per organisation (a late report can put
    several of the therapist's visits at risk at once: each was six queries on its own); how many were new."""
    told = set(
        Notification.objects.filter(change_key__in=[a.key for a in alerts]).values_list("change_key", flat=True)
    )
    by_organization: dict[int, list[Alert]] = {}
    for alert in alerts:
        if alert.key not in told:
            told.add(alert.key)  # the same alert twice in one batch is told once
            by_organization.setdefault(alert.visit.organization_id, []).append(alert)
    for organization_id, batch in by_organization.items():
        organization = batch[0].visit.organization
        coordinators = list(
            User.objects.filter(organization_id=organization_id, role=Role.COORDINATOR, is_active=True)
            .values_list("pk", flat=True)
        )
        messages, hooks = [], []
        for alert in batch:
            visit = alert.visit
            therapist = visit.therapist.display_name if visit.therapist_id else ""
            item = visit_item(visit=visit, event=alert.event, previous_start=None, for_staff=False,
                              therapist=therapist, **alert.extra)
            messages.append((alert.key, {pk: [item] for pk in coordinators}))
            if alert.webhook:
                hook_item = {k: v for k, v in item.items() if k != "therapist"}
                hooks.append((alert.key, [(visit, alert.webhook, hook_item)]))
        outbox_write_many(organization=organization, changes=messages)
        webhook_events_write_many(organization=organization, changes=hooks)
    return sum(len(batch) for batch in by_organization.values())


def alert_check_in_far(*, visit: Visit, distance_m: int) -> None:
    key = f"checkin_far:{visit.pk}@{visit.sequence}"
    alert_send(visit=visit, event="visit.checkin_far", key=key, distance_m=distance_m)


def _visits():
    # The facility for the alert's words (where); read with the visit, not once per alert.
    return Visit.objects.select_related("organization", "patient", "therapist", "facility").prefetch_related("windows")


def late_visits(*, now: dt.datetime) -> list[Visit]:
    after = dt.timedelta(minutes=settings.ROUNDS_LATE_AFTER_MIN)
    candidates = _visits().filter(
        status__in=HELD, actual_start__isnull=True, planned_start__lte=now - after,
        planned_start__gte=now - dt.timedelta(hours=18),
    )
    return [v for v in candidates if v.planned_start + after + dt.timedelta(minutes=v.delay_min) <= now]


def _fits(visit: Visit, start: dt.datetime) -> bool:
    end = start + dt.timedelta(minutes=visit.duration_min)
    windows = list(visit.windows.all())
    return not windows or any(w.start <= start and end <= w.end for w in windows)


def at_risk_visits(*, organization: Organization, now: dt.datetime, therapist_id: int | None = None):
    """(visit, expected start) for each held visit today that the day's progress pushes out of its windows."""
    from dispatch.services.replan import therapist_now_list

    day = now.astimezone(organization.tz).date()
    midnight = dt.datetime.combine(day, dt.time(0), tzinfo=organization.tz)
    # One therapist's alerts read that therapist's day: a late report read the whole agency's (2,000 visits, most
    # of its ~220 ms), to use one therapist's state of it.
    states = therapist_now_list(organization=organization, day=day, now=now, therapist_id=therapist_id)
    upcoming = _visits().filter(organization=organization, date=day, status__in=HELD).order_by("planned_start")
    if therapist_id is not None:
        upcoming = upcoming.filter(therapist_id=therapist_id)
    by_therapist: dict[int, list[Visit]] = {}
    for visit in upcoming:
        by_therapist.setdefault(visit.therapist_id, []).append(visit)
    for tid, visits in by_therapist.items():
        state = states.get(tid)
        free = midnight + dt.timedelta(minutes=state.free_from_min) if state else now
        # Travel counts from a place we know they are at: after a visit started today, not from home.
        travel_known = bool(state and state.last_visit_id)
        for visit in visits:
            travel = dt.timedelta(minutes=(visit.planned_travel_min or 0) if travel_known else 0)
            start = max(visit.planned_start, free + travel)
            if not _fits(visit, start):
                yield visit, start
            free = start + dt.timedelta(minutes=visit.duration_min + visit.effective_buffer_min)
            travel_known = True


def _at_risk(visit: Visit, start: dt.datetime) -> Alert:
    expected = start.astimezone(visit.organization.tz).strftime("%H:%M")
    return Alert(
        visit=visit, event="visit.at_risk", key=f"at_risk:{visit.pk}@{visit.sequence}",
        webhook=WebhookEvent.AT_RISK, extra={"expected": expected},
    )


def alerts_for_therapist(*, visit: Visit, now: dt.datetime | None = None) -> None:
    """At once after a reported delay, for that therapist's day."""
    now = now or timezone.now()
    alerts_send([
        _at_risk(later, start)
        for later, start in at_risk_visits(organization=visit.organization, now=now, therapist_id=visit.therapist_id)
    ])


@transaction.atomic
def alerts_scan(*, now: dt.datetime | None = None) -> int:
    """The minute job: every new late or at-risk alert; returns how many were raised."""
    now = now or timezone.now()
    alerts = []
    for visit in late_visits(now=now):
        late_min = int((now - visit.planned_start).total_seconds() // 60)
        alerts.append(Alert(
            visit=visit, event="visit.late", key=f"late:{visit.pk}@{visit.sequence}", webhook=WebhookEvent.LATE,
            extra={"late_min": late_min},
        ))
    near = Visit.objects.filter(
        status__in=HELD, planned_start__range=(now - dt.timedelta(hours=18), now + dt.timedelta(hours=18))
    )
    for organization in Organization.objects.filter(pk__in=near.values("organization_id")):
        alerts.extend(_at_risk(visit, start) for visit, start in at_risk_visits(organization=organization, now=now))
    return alerts_send(alerts)
