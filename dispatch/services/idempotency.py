"""Idempotency-Key: a facility retrying a request gets the first answer back, not a second visit."""
from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction

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


def idempotency_key_get(*, user: User, key: str, request_hash: str) -> IdempotencyKey | None:
    """The stored answer for this key, or None; a different body under the same key is refused."""
    stored = IdempotencyKey.objects.filter(user=user, key=key).first()
    if stored is not None and stored.request_hash != request_hash:
        raise IdempotencyKeyReused(KEY_REUSED.format(key=key))
    return stored


@transaction.atomic
def idempotency_key_record(
    *, user: User, key: str, request_hash: str, response_status: int, response_body: Any
) -> IdempotencyKey:
    """Raises IntegrityError when a concurrent twin recorded the key first (the unique constraint decides)."""
    body = json.loads(json.dumps(response_body, cls=DjangoJSONEncoder))
    return IdempotencyKey.objects.create(
        user=user, key=key, request_hash=request_hash, response_status=response_status, response_body=body
    )
