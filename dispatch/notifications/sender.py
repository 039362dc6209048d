"""Sending the outbox's email and SMS rows that are due."""
from __future__ import annotations

import logging
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMessage
from django.utils import timezone

from dispatch.models import Channel, Notification
from dispatch.notifications.claims import due_rows, mark_failed, mark_sent
from dispatch.notifications.outbox import preference_of
from dispatch.notifications.sms import sms_backend

logger = logging.getLogger(__name__)
RETRY_BACKOFF_S = 60


def message_id(row: Notification) -> str:
    """The same on a resend, so a mail client can tell a second copy from a second message."""
    domain = urlsplit(settings.ROUNDS_PUBLIC_URL).hostname or "rounds.local"
    return f"<notification-{row.pk}@{domain}>"


def notification_send(row: Notification) -> None:
    if row.channel == Channel.EMAIL:
        EmailMessage(
            subject=row.subject, body=row.body, to=[row.recipient.email], headers={"Message-ID": message_id(row)}
        ).send()
    elif row.channel == Channel.SMS:
        number = preference_of(row.recipient).sms_number
        if not number:
            raise ValueError("The recipient has no SMS number any more.")
        sms_backend().send(to=number, body=row.body)


def outbox_flush() -> int:
    """Send every due email and SMS; returns how many went out."""
    sent = 0
    # In-app rows are written sent: only email and SMS rows are ever due.
    for pk in due_rows(Notification, due_field="not_before", now=timezone.now()):
        row = Notification.objects.select_related("recipient__notification_preference").get(pk=pk)
        try:
            notification_send(row)
        except Exception as exc:  # noqa: BLE001 (any backend failure: SMTP, provider, network)
            logger.warning("Notification %s (%s) not sent: %s", row.pk, row.channel, exc)
            mark_failed(
                Notification, pk=pk, attempts=row.attempts, max_attempts=settings.ROUNDS_NOTIFY_MAX_ATTEMPTS,
                retry_field="not_before", backoff_s=RETRY_BACKOFF_S, error=f"{type(exc).__name__}: {exc}",
            )
            continue
        mark_sent(Notification, pk=pk, sent_at=timezone.now())
        sent += 1
    return sent
