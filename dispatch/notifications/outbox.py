"""The outbox: rows written in the caller's transaction, handed to a sender once it commits.

A row's (change_key, recipient, channel) is unique and inserts ignore conflicts, so writing the same
change twice (a retried task, a replayed scan) leaves one message per person and channel.
"""
from __future__ import annotations

import datetime as dt
import uuid
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone

from dispatch.models import (
    Channel,
    Notification,
    NotificationPreference,
    SendStatus,
    User,
    WebhookDelivery,
    WebhookSubscription,
)
from dispatch.notifications.content import message_compose

if TYPE_CHECKING:
    from dispatch.models import Organization, Visit


def preference_of(user: User) -> NotificationPreference:
    try:
        return user.notification_preference
    except NotificationPreference.DoesNotExist:
        return NotificationPreference(user=user)


def channels_of(user: User, preference: NotificationPreference) -> list[str]:
    channels = []
    if preference.in_app:
        channels.append(Channel.IN_APP)
    if preference.email and user.email:
        channels.append(Channel.EMAIL)
    if preference.sms and preference.sms_number:
        channels.append(Channel.SMS)
    return channels


def quiet_until(preference: NotificationPreference, *, now: dt.datetime, tz) -> dt.datetime:
    """``now``, or the end of the person's quiet hours when ``now`` falls inside them."""
    start, end = preference.quiet_start, preference.quiet_end
    if start is None or end is None or start == end:
        return now
    local = now.astimezone(tz)
    t = local.time()
    inside = start <= t < end if start < end else (t >= start or t < end)
    if not inside:
        return now
    day = local.date() if t < end else local.date() + dt.timedelta(days=1)
    return dt.datetime.combine(day, end, tzinfo=tz)


def outbox_write(*, organization: Organization, change_key: str, messages: dict[int, list[dict[str, Any]]]) -> None:
    """One message per person (their items are one digest) and channel they chose."""
    outbox_write_many(organization=organization, changes=[(change_key, messages)])


def outbox_write_many(*, organization: Organization, changes: list[tuple[str, dict[int, list[dict[str, Any]]]]]) -> None:
    """outbox_write for several changes at once (the alerts one scan or one late report raises): the people read
    once, each digest composed once however many people get it, the rows written in one INSERT."""
    changes = [(key, messages) for key, messages in changes if messages]
    if not changes:
        return
    now = timezone.now()
    tz = organization.tz
    recipients = {pk for _, messages in changes for pk in messages}
    users = list(User.objects.filter(pk__in=recipients, is_active=True).select_related("notification_preference"))
    composed: dict[tuple[int, ...], tuple[str, str, str, str]] = {}
    rows = []
    for change_key, messages in changes:
        for user in users:
            items = messages.get(user.pk)
            if not items:
                continue
            preference = preference_of(user)
            # The same items (the same objects) told to many people are one message to compose.
            if (same := tuple(map(id, items))) not in composed:
                composed[same] = message_compose(items, tz=tz)
            subject, body, sms, link = composed[same]
            urgent = any(item["urgent"] for item in items)
            held_until = now if urgent else quiet_until(preference, now=now, tz=tz)
            for channel in channels_of(user, preference):
                in_app = channel == Channel.IN_APP
                rows.append(
                    Notification(
                        organization=organization,
                        recipient=user,
                        channel=channel,
                        change_key=change_key,
                        event=items[0]["event"] if len(items) == 1 else "digest",
                        urgent=urgent,
                        subject=subject,
                        body=sms if channel == Channel.SMS else body,
                        link=link,
                        items=items,
                        # The in-app row is its own delivery: it is there as soon as the change commits.
                        status=SendStatus.SENT if in_app else SendStatus.PENDING,
                        sent_at=now if in_app else None,
                        not_before=now if in_app else held_until,
                    )
                )
    Notification.objects.bulk_create(rows, ignore_conflicts=True)
    if any(row.status == SendStatus.PENDING for row in rows):
        send_after_commit()


def webhook_events_write(*, organization: Organization, change_key: str, events: list[tuple[Visit, str, dict]]) -> None:
    """One delivery per subscription and event it asked for, scoped to its facility when it has one."""
    webhook_events_write_many(organization=organization, changes=[(change_key, events)])


def webhook_events_write_many(
    *, organization: Organization, changes: list[tuple[str, list[tuple[Visit, str, dict]]]]
) -> None:
    """webhook_events_write for several changes at once: the subscriptions read once, one INSERT."""
    changes = [(key, events) for key, events in changes if events]
    if not changes:
        return
    subscriptions = list(WebhookSubscription.objects.filter(organization=organization, active=True))
    now = timezone.now()
    rows = [
        WebhookDelivery(
            subscription=subscription,
            delivery_id=uuid.uuid4(),
            event=event,
            event_key=f"{change_key}:{visit.pk}:{event}",
            payload={"type": event, "change": change_key, "data": {k: v for k, v in item.items() if k != "urgent"}},
            next_attempt_at=now,
        )
        for change_key, events in changes
        for visit, event, item in events
        for subscription in subscriptions
        if event in subscription.events and subscription.facility_id in (None, visit.facility_id)
    ]
    WebhookDelivery.objects.bulk_create(rows, ignore_conflicts=True)
    if rows:
        send_after_commit()


def send_after_commit() -> None:
    from dispatch.notifications.runner import sending_start

    # robust: the change is committed; a failing sender must not turn the answer into a 500 (the rows
    # stay pending for the next run). Two senders for one transaction are harmless: each row is claimed.
    transaction.on_commit(sending_start, robust=True)
