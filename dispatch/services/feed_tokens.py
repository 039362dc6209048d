"""Calendar subscription secrets: only the SHA-256 is stored, so a URL can be shown once, when it is made."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from dispatch.models import Facility, FeedToken, Role, Therapist, User
from dispatch.selectors.feeds import feed_token_owner

TOKEN_BYTES = 32  # 256 bits, well over the 128 the issue asks for


@dataclass(frozen=True)
class FeedUrls:
    url: str
    webcal_url: str


def feed_token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def feed_token_revoke(
    *,
    therapist: Therapist | None = None,
    facility: Facility | None = None,
    user: User | None = None,
    every_user: bool = False,
) -> int:
    """Revoke one slot's URL, or with every_user every URL to a facility's feed (the shared and the staff's)."""
    owner = feed_token_owner(therapist=therapist, facility=facility, user=user)
    if every_user:
        owner.pop("user", None)
    return FeedToken.objects.filter(**owner, revoked_at__isnull=True).update(revoked_at=timezone.now())


@transaction.atomic
def feed_token_rotate(
    *, therapist: Therapist | None = None, facility: Facility | None = None, user: User | None = None
) -> tuple[FeedToken, str]:
    """Revoke the slot's active token (its URL then answers 404) and make a new one; returns it with the secret."""
    owner = feed_token_owner(therapist=therapist, facility=facility, user=user)
    # Lock the owner so two rotations at once (or two first GETs of /me/feed) leave one active token.
    locked = therapist if therapist is not None else facility
    type(locked).objects.select_for_update().filter(pk=locked.pk).first()
    feed_token_revoke(therapist=therapist, facility=facility, user=user)
    token = secrets.token_urlsafe(TOKEN_BYTES)
    feed_token = FeedToken(**owner, token_hash=feed_token_hash(token))
    feed_token.full_clean()
    feed_token.save()
    return feed_token, token


def feed_owner_of_user(user: User) -> dict | None:
    """The feed a user holds a URL to: a therapist their own, facility staff their facility's (a URL of their own)."""
    if user.role == Role.THERAPIST and hasattr(user, "therapist"):
        return {"therapist": user.therapist}
    if user.role == Role.FACILITY_STAFF and user.facility_id:
        return {"facility": user.facility, "user": user}
    return None


def _holder_may_read(feed_token: FeedToken) -> bool:
    """The feed carries door codes and precautions (therapist) or who is where (facility): only while entitled."""
    if feed_token.therapist_id:
        return feed_token.therapist.active and feed_token.therapist.user.is_active
    holder = feed_token.user
    if holder is None:
        return True
    return holder.is_active and holder.role == Role.FACILITY_STAFF and holder.facility_id == feed_token.facility_id


def feed_token_resolve(*, token: str) -> FeedToken | None:
    """The active token for a presented secret, or None. Looked up by hash, then compared in constant time.

    A deactivated therapist, or a staff member who left or moved to another facility, stops reading at once;
    reactivating a therapist brings the same URL back.
    """
    presented = feed_token_hash(token)
    feed_token = (
        FeedToken.objects.select_related(
            "therapist__organization", "therapist__user", "facility__organization", "user"
        )
        .filter(token_hash=presented, revoked_at__isnull=True)
        .first()
    )
    if feed_token is None or not hmac.compare_digest(feed_token.token_hash, presented):
        return None
    return feed_token if _holder_may_read(feed_token) else None


def feed_urls(*, feed_token: FeedToken, token: str) -> FeedUrls:
    kind = "therapists" if feed_token.therapist_id else "facilities"
    base = settings.ROUNDS_PUBLIC_URL.rstrip("/")
    url = f"{base}/feeds/{kind}/{token}.ics"
    parts = urlsplit(url)
    return FeedUrls(url=url, webcal_url=f"webcal://{parts.netloc}{parts.path}")
