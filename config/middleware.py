from __future__ import annotations

import logging
import random
import time
from types import SimpleNamespace

from django.conf import settings
from django.http import JsonResponse
from django.shortcuts import render

from api.throttling import ScopedFixedWindowRateThrottle

logger = logging.getLogger(__name__)

BODY_TOO_LARGE = "The request body is {size} bytes; at most {limit} bytes are accepted."


class RefuseLargeBodies:
    """Answer 413 with the limit before reading a body that is too large.

    Django would read it and then answer a bare 400; a client deserves to know the limit.
    """

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        try:
            size = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return JsonResponse({"detail": "Content-Length is not a number.", "code": "bad_length"}, status=400)
        if limit is not None and size > limit:
            body = {"detail": BODY_TOO_LARGE.format(size=size, limit=limit), "code": "body_too_large"}
            return JsonResponse(body, status=413)
        return self.get_response(request)


NOT_TEXT = "Charset {charset!r} is not a text encoding; send the body in UTF-8."


class RefuseCharsetsThatAreNotText:
    """Answer 415 to a body whose charset is not a text encoding.

    Django takes any charset codecs.lookup() knows as request.encoding, bytes-to-bytes codecs too (rot13,
    base64, hex, zlib_codec); decoding a JSON, form or multipart body with one raises LookupError, a 500.
    """

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        if request.encoding:
            try:
                # bytes.decode() refuses a codec that is not text with LookupError (for non-empty input; whether
                # this one byte is valid in that charset does not matter here).
                b"x".decode(request.encoding)
            except UnicodeDecodeError:
                pass
            except LookupError:
                body = {"detail": NOT_TEXT.format(charset=request.encoding), "code": "unsupported_media_type"}
                return JsonResponse(body, status=415)
        return self.get_response(request)


SIGN_IN_PAGES = frozenset({"/accounts/login/", "/admin/login/"})
TOO_MANY_SIGN_INS = "Too many sign-ins from this address; try again in {seconds} seconds."


class ThrottleSignInPages:
    """The board's and the admin's login POSTs count against the same per-address budget as the API's token
    login (its DRF throttle, scope "login"): the guard against one address trying many usernames, now that
    django-axes locks usernames and not addresses."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        if request.method == "POST" and request.path in SIGN_IN_PAGES:
            throttle = ScopedFixedWindowRateThrottle()
            if not throttle.allow_request(request, SimpleNamespace(throttle_scope="login")):
                seconds = max(1, int(throttle.wait()))
                response = render(
                    request, "board/forbidden.html", {"message": TOO_MANY_SIGN_INS.format(seconds=seconds)},
                    status=429,
                )
                response["Retry-After"] = str(seconds)
                return response
        return self.get_response(request)


class RefuseUnknownHosts:
    """ALLOWED_HOSTS for every request: Django checks the Host header in CommonMiddleware, which a calendar feed's
    short chain (config.handlers) leaves out; request.get_host() raises DisallowedHost, answered 400."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        request.get_host()
        return self.get_response(request)


class ResetTimezone:
    """Authentication activates the organisation's zone per request; a reused thread must not keep it."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        try:
            return self.get_response(request)
        finally:
            from django.utils import timezone

            timezone.deactivate()


DATABASE_BUSY = "The database is busy or unreachable; nothing was changed. Try again in {seconds} seconds."
RETRY_AFTER_S = 5
NOT_FOUND = "Not found."


# PostgreSQL's SQLSTATEs for a transaction it ended so that another could go on; nothing of it was kept.
ENDED_TO_LET_ANOTHER_ON = frozenset({"40P01", "40001"})  # deadlock_detected, serialization_failure
ATTEMPTS_AFTER_A_DEADLOCK = 3


class RunDeadlockVictimsAgain:
    """A request whose transaction PostgreSQL ended to break a deadlock is run again, up to three times in all.

    Changes take their row locks in one order where one exists (booking_locks_take: therapists, patient, visit),
    but not every pair can: a check-in locks its visit and then the day's later ones it pushes, while a plan applied
    at that moment locks the day's visits by id. The loser's whole transaction (ATOMIC_REQUESTS) was rolled back,
    its notifications unsent (they go on commit), so running it again is safe, and the lock it waited for is free
    by then. It is written here because Django and its libraries retry nothing; a request still losing after three
    tries gets AnswerInsteadOf500's 503 with Retry-After."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            request.body  # kept, so that a second run parses the same body (RefuseLargeBodies bounded it)
        for attempt in range(1, ATTEMPTS_AFTER_A_DEADLOCK):
            request.ended_by_a_deadlock = False
            response = self.get_response(request)
            if not request.ended_by_a_deadlock:
                return response
            logger.info("Running %s %s again after a deadlock (attempt %d)", request.method, request.path, attempt)
            time.sleep(random.uniform(0.005, 0.02) * attempt)  # the two would otherwise meet again in step
        return self.get_response(request)  # the last run's answer, whatever it is


class AnswerInsteadOf500:
    """Two failures that are no fault of the code handling the request get a 4xx/5xx that says so.

    - A database that is locked (SQLite's "database is locked"), times out on a lock or has gone away:
      503 with Retry-After. The request's transaction was rolled back whole.
    - An id beyond 64 bits in a path (``/api/v1/visits/99999999999999999999999``): SQLite's driver
      raises OverflowError when such a number reaches a query; no object can have it, so 404.
    """

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        from django.db import OperationalError

        if isinstance(exception, OperationalError):
            if getattr(exception.__cause__, "sqlstate", None) in ENDED_TO_LET_ANOTHER_ON:
                request.ended_by_a_deadlock = True
            logger.warning("Database unavailable for %s %s: %s", request.method, request.path, exception)
            return database_busy_response()
        if isinstance(exception, OverflowError):
            from django.http import Http404
            from django.views import defaults

            if request.path.startswith("/api/"):
                return JsonResponse({"detail": NOT_FOUND, "code": "not_found"}, status=404)
            return defaults.page_not_found(request, Http404(NOT_FOUND))
        return None


def database_busy_response() -> JsonResponse:
    body = {"detail": DATABASE_BUSY.format(seconds=RETRY_AFTER_S), "code": "database_busy"}
    return JsonResponse(body, status=503, headers={"Retry-After": str(RETRY_AFTER_S)})
