"""Claiming outbox rows: each sender takes a row by compare-and-set on its attempt count.

No row lock is held while a message goes out (a slow SMTP server or endpoint would hold a transaction
open); instead the row says "sending" until ``lease_until``. A sender that dies mid-send leaves the
row to be taken again once the lease is over, so nothing is lost; a row marked sent is never taken
again, so nothing is sent twice save the one in flight when the sender died (which carries the same
Message-ID or delivery id the second time, so the far side can tell).
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from django.conf import settings
from django.db.models import F, Model, Q
from django.utils import timezone

from dispatch.models import SendStatus


def due_rows(model: type[Model], *, due_field: str, now: dt.datetime, limit: int = 500) -> Iterator[int]:
    """Ids claimed for this sender, one at a time, oldest first."""
    expired = Q(status=SendStatus.SENDING, lease_until__lt=now)
    waiting = Q(status=SendStatus.PENDING, **{f"{due_field}__lte": now})
    rows = model.objects.filter(waiting | expired).order_by("pk").values_list("pk", "attempts")[:limit]
    lease = now + dt.timedelta(seconds=settings.ROUNDS_NOTIFY_LEASE_S)
    for pk, attempts in list(rows):
        taken = (
            model.objects.filter(pk=pk, attempts=attempts)
            .filter(waiting | expired)
            .update(status=SendStatus.SENDING, attempts=F("attempts") + 1, lease_until=lease)
        )
        if taken:
            yield pk


def mark_sent(model: type[Model], *, pk: int, **fields) -> None:
    model.objects.filter(pk=pk, status=SendStatus.SENDING).update(
        status=SendStatus.SENT, lease_until=None, last_error="", **fields
    )


def mark_failed(
    model: type[Model], *, pk: int, attempts: int, max_attempts: int, retry_field: str, backoff_s: float, error: str,
    **fields,
) -> bool:
    """Back to pending after an exponential wait, or failed for good; True when it will be retried."""
    retry = attempts < max_attempts
    changes = {"status": SendStatus.PENDING if retry else SendStatus.FAILED, "lease_until": None, **fields}
    if retry:
        changes[retry_field] = timezone.now() + dt.timedelta(seconds=backoff_s * 2 ** (attempts - 1))
    model.objects.filter(pk=pk, status=SendStatus.SENDING).update(last_error=error[:500], **changes)
    return retry
