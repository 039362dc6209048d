"""Who the client is (its address behind the configured proxies) and what a locked-out client is told."""
from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from rest_framework.throttling import BaseThrottle

LOCKED_OUT = "Too many failed sign-ins for this account; try again in {minutes} minutes."


def client_address(request: HttpRequest) -> str | None:
    """The address DRF's throttles use too, so both count the same client (NUM_PROXIES decides)."""
    return BaseThrottle().get_ident(request)


def lockout_response(request: HttpRequest, original_response=None, credentials=None) -> HttpResponse:
    from django.conf import settings

    minutes = max(1, int(settings.AXES_COOLOFF_TIME.total_seconds() // 60))
    message = LOCKED_OUT.format(minutes=minutes)
    if request.path.startswith("/api/"):
        response = JsonResponse({"detail": message, "code": "locked_out"}, status=429)
    else:
        response = render(request, "board/forbidden.html", {"message": message}, status=429)
    response["Retry-After"] = str(int(settings.AXES_COOLOFF_TIME.total_seconds()))
    return response
