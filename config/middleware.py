from __future__ import annotations

from django.conf import settings
from django.http import JsonResponse

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
