from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from dispatch.models.signalling import SignallingManager


class FeedToken(models.Model):
    """A calendar subscription secret. Only its SHA-256 is stored; the URL is shown once."""

    therapist = models.ForeignKey(
        "dispatch.Therapist", on_delete=models.CASCADE, null=True, blank=True, related_name="feed_tokens"
    )
    facility = models.ForeignKey(
        "dispatch.Facility", on_delete=models.CASCADE, null=True, blank=True, related_name="feed_tokens"
    )
    # Facility staff each hold their own URL to the facility's feed (blank: the facility's shared URL), so one
    # of them leaving or rotating touches nobody else's calendar.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True, related_name="feed_tokens"
    )
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = SignallingManager()  # a revocation is one UPDATE of the slot's tokens

    class Meta:
        constraints = [
            models.CheckConstraint(
                name="feed_token_has_one_owner",
                condition=Q(therapist__isnull=False, facility__isnull=True)
                | Q(therapist__isnull=True, facility__isnull=False),
            ),
            models.CheckConstraint(
                name="feed_token_user_only_for_facility", condition=Q(user__isnull=True) | Q(facility__isnull=False)
            ),
        ]


class IdempotencyKey(models.Model):
    """A request replayed with the same key gets the first response back, for ROUNDS_IDEMPOTENCY_KEY_TTL_H hours."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=200)
    request_hash = models.CharField(max_length=64)
    response_status = models.PositiveSmallIntegerField()
    response_body = models.JSONField()
    # Only the headers a replay must repeat (Location of a created plan or visit).
    response_headers = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_unique_per_user")]
        indexes = [models.Index(fields=["created_at"], name="idempotency_key_created")]  # the purge
