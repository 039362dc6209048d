"""Idempotency-Key: a client retrying a request gets the first answer back, not a second visit or plan.

A key is remembered for ROUNDS_IDEMPOTENCY_KEY_TTL_H hours (24 by default): after that the same key
starts afresh. Expired keys are purged as each user records a new one, and all of them by
``manage.py purge_idempotency_keys`` (run it daily, e.g. from cron).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from dispatch.exceptions import ConflictError, DispatchError
from dispatch.models import IdempotencyKey

if TYPE_CHECKING:
    from dispatch.models import User

KEY_MAX_LENGTH = 200
KEY_REUSED = "Idempotency-Key {key!r} was already used with a different request body."
KEY_MALFORMED = "Idempotency-Key must be 1 to {limit} printable characters."


class IdempotencyKeyReused(ConflictError):
    status_code = 422
    code = "idempotency_key_reused"


def idempotency_request_hash(*, method: str, path: str, data: Any) -> str:
    """Key order and whitespace do not make two bodies different."""
    canonical = json.dumps([method.upper(), path, data], sort_keys=True, separators=(",", ":"), cls=DjangoJSONEncoder)
    return hashlib.sha256(canonical.encode()).hexdigest()


def idempotency_key_validate(*, key: str) -> None:
    if not (0 < len(key) <= KEY_MAX_LENGTH) or not key.isprintable():
        raise DispatchError(KEY_MALFORMED.format(limit=KEY_MAX_LENGTH), {"header": "Idempotency-Key"})


def _expired_before() -> dt.datetime:
    return timezone.now() - dt.timedelta(hours=settings.ROUNDS_IDEMPOTENCY_KEY_TTL_H)


def idempotency_key_get(*, user: User, key: str, request_hash: str) -> IdempotencyKey | None:
    """The stored answer for this key, or None; a different body under the same key is refused."""
    stored = IdempotencyKey.objects.filter(user=user, key=key, created_at__gte=_expired_before()).first()
    if stored is not None and stored.request_hash != request_hash:
        raise IdempotencyKeyReused(KEY_REUSED.format(key=key))
    return stored


@transaction.atomic
def idempotency_key_record(
    *, user: User, key: str, request_hash: str, response_status: int, response_body: Any,
    response_headers: dict[str, str] | None = None,
) -> IdempotencyKey:
    """Raises IntegrityError when a concurrent twin recorded the key first (the unique constraint decides)."""
    # This user's expired keys go now: the key may be one of them, and the table stays small between purges.
    IdempotencyKey.objects.filter(user=user, created_at__lt=_expired_before()).delete()
    body = json.loads(json.dumps(response_body, cls=DjangoJSONEncoder))
    return IdempotencyKey.objects.create(
        user=user, key=key, request_hash=request_hash, response_status=response_status, response_body=body,
        response_headers=response_headers or {},
    )


def idempotency_keys_purge() -> int:
    """Delete every expired key; returns how many."""
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=_expired_before()).delete()
    return deleted
