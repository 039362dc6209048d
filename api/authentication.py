"""Authentication that also switches to the organisation's time zone.

DRF authenticates inside the view, after every middleware has run, so a middleware cannot know a
token user's organisation; doing it here makes every datetime in a response read in local time.
"""
from __future__ import annotations

from django.utils import timezone
from drf_spectacular.authentication import SessionScheme, TokenScheme
from rest_framework.authentication import SessionAuthentication, TokenAuthentication


class _OrganizationTimezone:
    def authenticate(self, request):
        result = super().authenticate(request)
        if result is not None and getattr(result[0], "organization", None) is not None:
            timezone.activate(result[0].organization.tz)
        return result


class OrgTokenAuthentication(_OrganizationTimezone, TokenAuthentication):
    pass


class OrgSessionAuthentication(_OrganizationTimezone, SessionAuthentication):
    pass


class OrgTokenScheme(TokenScheme):
    target_class = OrgTokenAuthentication


class OrgSessionScheme(SessionScheme):
    target_class = OrgSessionAuthentication
