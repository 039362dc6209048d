from __future__ import annotations

from collections import Counter

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.db.models import ProtectedError
from django.http import Http404
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from dispatch.exceptions import DispatchError


def exception_handler(exc, context):
    """Translate domain errors in one place; DRF handles the rest."""
    if isinstance(exc, DispatchError):
        body = {"detail": exc.message, "code": exc.code, **({"extra": exc.extra} if exc.extra else {})}
        # Under ATOMIC_REQUESTS a refused request must not commit what the view wrote before refusing.
        set_rollback()
        return Response(body, status=exc.status_code)
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(as_serializer_error(exc))
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, ProtectedError):
        set_rollback()
        return Response({"detail": still_depends(exc, context), "code": "conflict"}, status=409)
    elif isinstance(exc, IntegrityError):
        # A database constraint caught what validation missed (often a race): a conflict, not a 500.
        set_rollback()
        return Response(
            {"detail": "The change conflicts with the current data and was not saved.", "code": "conflict"},
            status=409,
        )
    return drf_exception_handler(exc, context)


def non_atomic_exception_handler(exc, context):
    """For views that run in no transaction of their own (reads: a feed's poll, the schedule): DRF's refusals (404,
    405, 406, 429, ...) as its handler gives them, without its rollback mark, which would land on an enclosing
    transaction (a test's) and break its next query."""
    if isinstance(exc, exceptions.APIException):
        headers = {"Retry-After": str(int(exc.wait))} if getattr(exc, "wait", None) else {}
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header
        body = exc.detail if isinstance(exc.detail, dict | list) else {"detail": exc.detail}
        return Response(body, status=exc.status_code, headers=headers)
    if isinstance(exc, Http404):
        return non_atomic_exception_handler(exceptions.NotFound(), context)
    if isinstance(exc, PermissionDenied):
        return non_atomic_exception_handler(exceptions.PermissionDenied(), context)
    return exception_handler(exc, context)


STILL_DEPENDS = "{target} still has {dependents}; cancel, move or delete them first (or mark it inactive)."


def still_depends(exc: ProtectedError, context) -> str:
    """What a delete left in place, counted by kind: "Patient 11 still has 9 visits; ..."."""
    counts = Counter(obj._meta for obj in exc.protected_objects)
    dependents = ", ".join(
        f"{n} {meta.verbose_name if n == 1 else meta.verbose_name_plural}" for meta, n in counts.most_common()
    )
    view = context.get("view")
    queryset = getattr(view, "queryset", None)
    pk = getattr(view, "kwargs", {}).get("pk")
    target = f"{queryset.model._meta.verbose_name.capitalize()} {pk}" if queryset is not None and pk else "It"
    return STILL_DEPENDS.format(target=target, dependents=dependents)
