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
from dispatch.credential_cache import credential_key, credential_read

USER_INACTIVE = "This account is switched off."


class _OrganizationTimezone:
    def authenticate(self, request):
        result = super().authenticate(request)
        if result is not None and getattr(result[0], "organization", None) is not None:
            timezone.activate(result[0].organization.tz)
        return result


class OrgTokenAuthentication(_OrganizationTimezone, TokenAuthentication):
    def authenticate_credentials(self, token):
        """knox's, with the token read together with what every request reads of its user next (the organisation's
        zone here, the therapist record in validate_user), and kept in the cache under its digest while the
        organisation's access versions stand (dispatch.credential_cache): a reload reads no table."""
        msg = _("Invalid token.")
        token = token.decode("utf-8")
        try:
            digest = hash_token(token)
        except (TypeError, binascii.Error):
            raise exceptions.AuthenticationFailed(msg) from None
        auth_token = credential_read(
            key=credential_key("token", digest),
            read=lambda: self._token_row(token, digest),
            organization_of=lambda found: found.user.organization_id,
        )
        if auth_token is None or self._cleanup_token(auth_token):
            raise exceptions.AuthenticationFailed(msg)
        if knox_settings.AUTO_REFRESH and auth_token.expiry:
            # Saves (and so drops the kept copy) only when the expiry moves by more than MIN_REFRESH_INTERVAL.
            self.renew_token(auth_token)
        return self.validate_user(auth_token)

    @staticmethod
    def _token_row(token: str, digest: str):
        tokens = get_token_model().objects.filter(token_key=token[:CONSTANTS.TOKEN_KEY_LENGTH])
        for auth_token in tokens.select_related("user__organization", "user__therapist"):
            if compare_digest(digest, auth_token.digest):
                return auth_token
        return None

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
