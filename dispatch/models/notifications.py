"""Same-day messages: each person's preferences, the outbox of messages, webhook subscriptions and deliveries.

The outbox row is written in the transaction of the change it tells about and sent after commit; its
unique (change_key, recipient, channel) makes a retried or replayed send land on the same row.
"""
from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from dispatch.models.encrypted import SecretField


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    SMS = "sms", "SMS"
    IN_APP = "in_app", "In the app"


class SendStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped"


class NotificationPreference(models.Model):
    """Absent: email and in-app, no SMS, no quiet hours."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preference"
    )
    email = models.BooleanField(default=True)
    sms = models.BooleanField(default=False)
    in_app = models.BooleanField(default=True)
    sms_number = models.CharField(max_length=20, blank=True, help_text="E.164, e.g. +14165550123.")
    # Local time of the organisation; a range may wrap midnight (22:00-07:00).
    quiet_start = models.TimeField(null=True, blank=True)
    quiet_end = models.TimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                name="quiet_hours_both_or_neither",
                condition=Q(quiet_start__isnull=True, quiet_end__isnull=True)
                | Q(quiet_start__isnull=False, quiet_end__isnull=False),
            )
        ]


class Notification(models.Model):
    """One message to one person on one channel; the in-app rows are what GET /notifications lists."""

    organization = models.ForeignKey("dispatch.Organization", on_delete=models.CASCADE, related_name="+")
    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    channel = models.CharField(max_length=8, choices=Channel.choices)
    # What changed, e.g. "plan:12", "visit:40@7", "late:40@7": a person hears of one change once per channel.
    change_key = models.CharField(max_length=120)
    event = models.CharField(max_length=40, help_text="The first event of the message, or 'digest'.")
    urgent = models.BooleanField(default=False)
    subject = models.CharField(max_length=200)
    body = models.TextField()
    link = models.CharField(max_length=500)
    items = models.JSONField(default=list, help_text="Per visit: event, visit id, times, place, initials.")
    status = models.CharField(max_length=8, choices=SendStatus.choices, default=SendStatus.PENDING)
    not_before = models.DateTimeField(help_text="Quiet hours hold a non-urgent message until they end.")
    attempts = models.PositiveSmallIntegerField(default=0)
    lease_until = models.DateTimeField(null=True, blank=True, help_text="A sender holds the row until then.")
    last_error = models.CharField(max_length=500, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "not_before"]),
            models.Index(fields=["recipient", "channel", "read_at"]),
        ]
        constraints = [
            models.UniqueConstraint(fields=["change_key", "recipient", "channel"], name="notification_once_per_change")
        ]


class WebhookEvent(models.TextChoices):
    SCHEDULED = "visit.scheduled", "A visit got a therapist and a time"
    MOVED = "visit.moved", "A visit's time changed"
    REASSIGNED = "visit.reassigned", "A visit went to another therapist"
    UNSCHEDULED = "visit.unscheduled", "A visit lost its therapist and time"
    CANCELLED = "visit.cancelled", "A visit was cancelled or marked no-show"
    LATE = "visit.late", "No check-in some minutes after the planned start"
    AT_RISK = "visit.at_risk", "The day's progress makes a visit miss its window"


class WebhookSubscription(models.Model):
    """An integration's endpoint: the organisation's visits, or only one facility's when facility is set."""

    organization = models.ForeignKey("dispatch.Organization", on_delete=models.CASCADE, related_name="webhooks")
    facility = models.ForeignKey(
        "dispatch.Facility", on_delete=models.CASCADE, null=True, blank=True, related_name="webhooks"
    )
    url = models.URLField(max_length=500)
    events = models.JSONField(help_text="Event types, e.g. [\"visit.moved\"].")
    # Signing needs it back, so it is encrypted, not hashed. Shown once, when the subscription is made or its secret
    # rotated.
    secret = SecretField(max_length=64)
    # After a rotation the old secret signs too until then, so receivers can switch without losing deliveries.
    # (Null when there is none: the encrypted field stores an empty value as NULL.)
    previous_secret = SecretField(max_length=64, blank=True, null=True)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    active = models.BooleanField(default=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def honoured_previous_secrets(self, now: dt.datetime | None = None) -> tuple[str, ...]:
        expires = self.previous_secret_expires_at
        if self.previous_secret and expires is not None and expires > (now or timezone.now()):
            return (self.previous_secret,)
        return ()


class WebhookDelivery(models.Model):
    """One event to one subscription, with every attempt's outcome."""

    subscription = models.ForeignKey(WebhookSubscription, on_delete=models.CASCADE, related_name="deliveries")
    delivery_id = models.UUIDField(unique=True, help_text="Sent as X-Rounds-Delivery: the same on every retry.")
    event = models.CharField(max_length=40, choices=WebhookEvent.choices)
    event_key = models.CharField(max_length=160, help_text="change key, visit and event")
    payload = models.JSONField()
    status = models.CharField(max_length=8, choices=SendStatus.choices, default=SendStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    lease_until = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "next_attempt_at"])]
        constraints = [
            models.UniqueConstraint(fields=["subscription", "event_key"], name="webhook_delivery_once_per_event")
        ]
