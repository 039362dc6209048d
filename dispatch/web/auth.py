"""Signed-in checks for the pages' JSON reads."""
from __future__ import annotations

from functools import wraps

from django.http import JsonResponse

SESSION_ENDED = "Your session has ended: sign in again."


def login_required_json(view):
    """login_required for what a script reads: a 401 it can act on, not a redirect to an HTML login page that
    fetch() follows silently (and a non-browser client takes for the data)."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return JsonResponse({"detail": SESSION_ENDED, "code": "not_authenticated"}, status=401)
        return view(request, *args, **kwargs)

    return wrapped
