"""Who may sign in and stay signed in: an active user whose therapist record (if any) is active too.

Checked on every request (sessions re-load the user through ``get_user``; API tokens through
``api.authentication``), so switching either flag off cuts a user off at once.
"""
from __future__ import annotations

from axes.backends import AxesStandaloneBackend
from django.contrib.auth.backends import ModelBackend

from dispatch.credential_cache import credential_key, credential_read
from dispatch.models import User


def user_is_active(user) -> bool:
    if not getattr(user, "is_active", False):
        return False
    therapist = getattr(user, "therapist", None)
    return therapist is None or therapist.active


class ActiveUserBackend(ModelBackend):
    def user_can_authenticate(self, user) -> bool:
        return user_is_active(user)

    def get_user(self, user_id):
        # Every session request (each board reload) asks: kept in the cache while the organisation's access versions
        # stand (dispatch.credential_cache).
        user = credential_read(
            key=credential_key("user", user_id), read=lambda: _user_row(user_id),
            organization_of=lambda found: found.organization_id,
        )
        return user if user is not None and self.user_can_authenticate(user) else None


def _user_row(user_id):
    # [:1], not first(): the key is unique, and first()'s ORDER BY was a good part of compiling this query.
    return next(iter(User.objects.select_related("organization", "therapist").filter(pk=user_id)[:1]), None)


class SignInLimitBackend(AxesStandaloneBackend):
    """django-axes' lockout check. Every sign-in route passes the request; code that authenticates without
    one (management commands, the test client's ``login``) has no client to count and is let through."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)
