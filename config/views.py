"""Error pages: JSON under /api/ (a client parses what it gets), and a 503 when the database is busy.

Django answers a URL that matches no route (``/api/v1/visits/abc``) with its HTML 404 page; the API's
clients get the same JSON shape as every other API 404. A database failure that escapes a view (for
instance while a middleware saves the session) reaches the 500 handler; it says 503 and when to retry.
"""
from __future__ import annotations

import sys

from django.db import OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults

from config.middleware import NOT_FOUND, database_busy_response

SERVER_ERROR = "The server could not answer this request."


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        return JsonResponse({"detail": NOT_FOUND, "code": "not_found"}, status=404)
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if isinstance(sys.exc_info()[1], OperationalError):
        return database_busy_response()
    if _is_api(request):
        return JsonResponse({"detail": SERVER_ERROR, "code": "server_error"}, status=500)
    return defaults.server_error(request)
