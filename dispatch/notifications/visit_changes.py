"""Who is told what when visits change.

Therapists: a visit of theirs for today or tomorrow added, moved by more than ROUNDS_NOTIFY_MOVE_MIN,
taken away (reassigned or unscheduled) or cancelled. Facility staff: a request they made scheduled,
moved, cancelled or unscheduled, with the reason. Webhooks: every such visit event of their scope.
The person who made the change is not told of it.
"""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import TYPE_CHECKING

from django.conf import settings
from django.utils import timezone

from dispatch.models import Role, Therapist, Visit, VisitStatus, WebhookEvent
from dispatch.notifications.changes import VisitState, change_key_for, visit_state
from dispatch.notifications.content import visit_item
from dispatch.notifications.outbox import outbox_write, webhook_events_write

if TYPE_CHECKING:
    from dispatch.models import User

HELD = (VisitStatus.SCHEDULED, VisitStatus.CONFIRMED)
CALLED_OFF = (VisitStatus.CANCELLED, VisitStatus.NO_SHOW)


def _moved(before: VisitState, after: VisitState) -> bool:
    if before.planned_start is None or after.planned_start is None:
        return False
    return abs(after.planned_start - before.planned_start) > dt.timedelta(minutes=settings.ROUNDS_NOTIFY_MOVE_MIN)


def therapist_events(before: VisitState, after: VisitState) -> list[tuple[int, str]]:
    """(therapist id, event) pairs; the day rule is applied by the caller."""
    held_before = before.status in HELD and before.therapist_id
    held_after = after.status in HELD and after.therapist_id
    if held_before and held_after and before.therapist_id != after.therapist_id:
        return [(before.therapist_id, "visit.removed"), (after.therapist_id, "visit.added")]
    if held_before and after.status == VisitStatus.CANCELLED:
        return [(before.therapist_id, "visit.cancelled")]
    if held_before and not held_after and after.status not in (VisitStatus.IN_PROGRESS, VisitStatus.NO_SHOW):
        return [(before.therapist_id, "visit.removed")]
    if held_after and not held_before and before.status == VisitStatus.REQUESTED:
        return [(after.therapist_id, "visit.added")]
    if held_before and held_after and _moved(before, after):
        return [(after.therapist_id, "visit.moved")]
    return []


def request_event(before: VisitState, after: VisitState) -> str | None:
    """What the facility (its staff member who asked, its webhooks) hears of."""
    if after.status in CALLED_OFF and before.status not in CALLED_OFF:
        return "request.cancelled"
    if before.status in HELD and after.status == VisitStatus.REQUESTED:
        return "request.unscheduled"
    if before.status == VisitStatus.REQUESTED and after.status in HELD:
        return "request.scheduled"
    if before.status in HELD and after.status in HELD and _moved(before, after):
        return "request.moved"
    return None


def webhook_event(before: VisitState, after: VisitState) -> str | None:
    event = request_event(before, after)
    if event is not None:
        return {
            "request.cancelled": WebhookEvent.CANCELLED,
            "request.unscheduled": WebhookEvent.UNSCHEDULED,
            "request.scheduled": WebhookEvent.SCHEDULED,
            "request.moved": WebhookEvent.MOVED,
        }[event]
    if before.status in HELD and after.status in HELD and before.therapist_id != after.therapist_id:
        return WebhookEvent.REASSIGNED
    return None


def _told_of(before: VisitState, after: VisitState) -> bool:
    """Whether someone may hear of this change (who, and on which day, is settled on the whole visit)."""
    return bool(therapist_events(before, after) or request_event(before, after) or webhook_event(before, after))


def visit_changes_notify(*, key: str | None, before: dict[int, VisitState], by: User | None) -> None:
    # Most changes tell no one (a check-in, a check-out, a push within the move threshold): their states alone,
    # four columns, say so, and the visits with what a message reads are loaded only for the rest.
    rows = Visit.objects.filter(pk__in=before).values_list(
        "pk", "therapist_id", "status", "planned_start", "status_reason", "sequence"
    )
    after = {pk: (VisitState(therapist_id, status, start, reason), sequence)
             for pk, therapist_id, status, start, reason, sequence in rows}
    changed_sequences = {pk: sequence for pk, (state, sequence) in after.items() if state != before[pk]}
    told = [pk for pk in changed_sequences if _told_of(before[pk], after[pk][0])]
    if not told:
        return
    changed = list(
        Visit.objects.filter(pk__in=told)
        .select_related("organization", "patient", "requested_by")
        .order_by("date", "planned_start", "pk")
    )
    if not changed:
        return
    key = key or change_key_for(changed_sequences)
    organization = changed[0].organization
    today = timezone.localdate(timezone=organization.tz)
    therapist_ids = {s.therapist_id for s in before.values()} | {v.therapist_id for v in changed}
    therapist_users = dict(Therapist.objects.filter(pk__in=therapist_ids).values_list("pk", "user_id"))
    messages: dict[int, list[dict]] = defaultdict(list)
    hooks: list[tuple[Visit, str, dict]] = []
    for visit in changed:
        old, new = before[visit.pk], visit_state(visit)
        for therapist_id, event in therapist_events(old, new):
            if visit.date in (today, today + dt.timedelta(days=1)) and therapist_id in therapist_users:
                item = visit_item(visit=visit, event=event, previous_start=old.planned_start, for_staff=False)
                messages[therapist_users[therapist_id]].append(item)
        event = request_event(old, new)
        requester = visit.requested_by
        if (
            event
            and requester is not None
            and requester.role == Role.FACILITY_STAFF
            and requester.facility_id == visit.facility_id
        ):
            messages[requester.pk].append(
                visit_item(visit=visit, event=event, previous_start=old.planned_start, for_staff=True)
            )
        hook = webhook_event(old, new)
        if hook:
            item = visit_item(visit=visit, event=hook, previous_start=old.planned_start, for_staff=True)
            hooks.append((visit, hook, item))
    if by is not None:
        messages.pop(by.pk, None)
    outbox_write(organization=organization, change_key=key, messages=messages)
    webhook_events_write(organization=organization, change_key=key, events=hooks)
