"""API tokens (django-rest-knox): the secret is shown once, only its hash is kept."""
from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from knox.models import AuthToken
from knox.settings import knox_settings

if TYPE_CHECKING:
    from dispatch.models import User


def api_token_list(*, user: User) -> QuerySet[AuthToken]:
    return AuthToken.objects.filter(user=user, expiry__gt=timezone.now()).order_by("-created")


@transaction.atomic
def api_token_create(*, user: User) -> tuple[AuthToken, str]:
    """A new token; expired ones go, and past the per-user limit the oldest goes, so that logging in again
    and again (a script, a simulator) keeps working while the rows a user can pile up stay bounded."""
    AuthToken.objects.filter(user=user, expiry__lte=timezone.now()).delete()
    limit = knox_settings.TOKEN_LIMIT_PER_USER
    if limit is not None:
        keep = api_token_list(user=user).select_for_update().values_list("digest", flat=True)[: limit - 1]
        AuthToken.objects.filter(user=user).exclude(digest__in=list(keep)).delete()
    return AuthToken.objects.create(user=user)


def api_token_revoke(*, user: User, token_id: str) -> bool:
    if "\x00" in token_id:  # no key holds one, and PostgreSQL refuses it in a query (a 500, not a 404)
        return False
    deleted, _ = AuthToken.objects.filter(user=user, token_key=token_id).delete()
    return bool(deleted)


def api_tokens_reissue(*, user: User) -> str:
    """Every older token of ``user`` stops working; the demo banner hands out fresh ones this way."""
    AuthToken.objects.filter(user=user).delete()
    return api_token_create(user=user)[1]
