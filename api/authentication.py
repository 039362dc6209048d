"""Authentication that also switches to the organisation's time zone.

DRF authenticates inside the view, after every middleware has run, so a middleware cannot know a
token user's organisation; doing it here makes every datetime in a response read in local time.
Tokens are django-rest-knox's (hashed at rest, expiring when unused); a user switched off, or whose
therapist record is, is refused with either kind of credential on the next request.
"""
from __future__ import annotations

import binascii
from hmac import compare_digest

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.authentication import SessionScheme
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from knox.auth import TokenAuthentication
from knox.crypto import hash_token
from knox.models import get_token_model
from knox.settings import CONSTANTS, knox_settings
from rest_framework import exceptions
from rest_framework.authentication import SessionAuthentication

from dispatch.auth_backends import user_is_active

USER_INACTIVE = "This account is switched off."


class _OrganizationTimezone:
    def authenticate(self, request):
        result = super().authenticate(request)
        if result is not None and getattr(result[0], "organization", None) is not None:
            timezone.activate(result[0].organization.tz)
        return result


class OrgTokenAuthentication(_OrganizationTimezone, TokenAuthentication):
    def authenticate_credentials(self, token):
        """knox's, with the user read together with what every request reads of them next (their organisation's zone
        here, their therapist record in validate_user): one query, not three, on every token request."""
        msg = _("Invalid token.")
        token = token.decode("utf-8")
        tokens = get_token_model().objects.filter(token_key=token[:CONSTANTS.TOKEN_KEY_LENGTH])
        for auth_token in tokens.select_related("user__organization", "user__therapist"):
            if self._cleanup_token(auth_token):
                continue
            try:
                digest = hash_token(token)
            except (TypeError, binascii.Error):
                raise exceptions.AuthenticationFailed(msg) from None
            if compare_digest(digest, auth_token.digest):
                if knox_settings.AUTO_REFRESH and auth_token.expiry:
                    self.renew_token(auth_token)
                return self.validate_user(auth_token)
        raise exceptions.AuthenticationFailed(msg)

    def _cleanup_token(self, auth_token) -> bool:
        # knox also sweeps the user's other expired tokens here, one query on every request; logging in
        # (api_token_create) sweeps them instead. Only the presented token's expiry matters now.
        if auth_token.expiry is not None and auth_token.expiry < timezone.now():
            auth_token.delete()
            return True
        return False

    def validate_user(self, auth_token):
        if not user_is_active(auth_token.user):
            raise exceptions.AuthenticationFailed(USER_INACTIVE)
        return auth_token.user, auth_token


class OrgSessionAuthentication(_OrganizationTimezone, SessionAuthentication):
    pass


class OrgTokenScheme(OpenApiAuthenticationExtension):
    target_class = OrgTokenAuthentication
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return build_bearer_security_scheme_object(
            header_name="Authorization", token_prefix=self.target.authenticate_header(None)
        )


class OrgSessionScheme(SessionScheme):
    target_class = OrgSessionAuthentication
