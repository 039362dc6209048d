"""@idempotent for a create view or a day action: same Idempotency-Key and body, same answer, one effect."""
from __future__ import annotations

from functools import wraps

from django.db import IntegrityError, transaction
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework.response import Response

from dispatch.exceptions import ConflictError
from dispatch.services.idempotency import (
    idempotency_key_get,
    idempotency_key_record,
    idempotency_key_validate,
    idempotency_request_hash,
)

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
REPLAYED_HEADERS = ("Location",)
# For the schema: how a client makes a create safe to retry.
IDEMPOTENCY_KEY_PARAMETER = OpenApiParameter(
    HEADER,
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description="Retry safely: the same key and body within 24 h replay the first response "
    "(header Idempotent-Replayed: true); the same key with another body is refused with 422.",
)


class _TwinRecordedFirst(Exception):
    """A concurrent request with the same key committed first: undo ours and answer with theirs."""


def _replay(stored) -> Response:
    headers = {**stored.response_headers, REPLAYED_HEADER: "true"}
    return Response(stored.response_body, status=stored.response_status, headers=headers)


def idempotent(handler):
    """Wrap an APIView's ``post``. Without the header the request goes through untouched."""

    @wraps(handler)
    def wrapper(view, request, *args, **kwargs):
        key = request.headers.get(HEADER)
        if key is None:
            return handler(view, request, *args, **kwargs)
        idempotency_key_validate(key=key)
        names = {"user": request.user, "key": key}
        digest = idempotency_request_hash(method=request.method, path=request.path, data=request.data)
        stored = idempotency_key_get(**names, request_hash=digest)
        if stored is not None:
            return _replay(stored)
        try:
            with transaction.atomic():
                response = handler(view, request, *args, **kwargs)
                if response.status_code < 500:
                    try:
                        with transaction.atomic():
                            idempotency_key_record(
                                **names,
                                request_hash=digest,
                                response_status=response.status_code,
                                response_body=response.data,
                                response_headers={h: response[h] for h in REPLAYED_HEADERS if response.has_header(h)},
                            )
                    except IntegrityError as exc:
                        raise _TwinRecordedFirst from exc
        except _TwinRecordedFirst:
            return _replay(idempotency_key_get(**names, request_hash=digest))
        except ConflictError:
            # A resend that arrived while the first still ran waited for its lock and then found the work
            # done (a check-in already under way): the first's answer, committed meanwhile, is this one's.
            stored = idempotency_key_get(**names, request_hash=digest)
            if stored is None:
                raise
            return _replay(stored)
        return response

    return wrapper
