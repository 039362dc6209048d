"""Board and admin sessions end 30 minutes after the last request and 12 hours after log-in.

Django's session cookie age gives the idle limit once the session is re-saved as it is used; there is no
absolute limit in Django, so the log-in time is kept in the session and checked here.
"""
from __future__ import annotations

import time

from django.conf import settings
from django.contrib.auth import logout
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver

LOGGED_IN_AT = "rounds_logged_in_at"
SEEN_AT = "rounds_seen_at"
# Re-saving the session on every request would write the database for every board refresh; once a minute
# moves the idle deadline on just as well.
TOUCH_EVERY_S = 60


@receiver(user_logged_in)
def _remember_log_in(sender, request, user, **kwargs) -> None:
    if request is not None and hasattr(request, "session"):
        request.session[LOGGED_IN_AT] = request.session[SEEN_AT] = int(time.time())


class SessionLimits:
    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        session = getattr(request, "session", None)
        if session is not None and session.session_key and request.user.is_authenticated:
            now = int(time.time())
            logged_in_at = session.setdefault(LOGGED_IN_AT, now)
            if now - logged_in_at > settings.ROUNDS_SESSION_MAX_AGE_S:
                logout(request)
            elif now - session.get(SEEN_AT, 0) >= TOUCH_EVERY_S:
                session[SEEN_AT] = now
        return self.get_response(request)
