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

from dispatch.models import Facility, FeedToken, Therapist

TOKEN_BYTES = 32  # 256 bits, well over the 128 the issue asks for


@dataclass(frozen=True)
class FeedUrls:
    https_url: str
    webcal_url: str


def feed_token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _owner_filter(*, therapist: Therapist | None, facility: Facility | None) -> dict:
    assert (therapist is None) != (facility is None), "A feed belongs to one therapist or one facility."
    return {"therapist": therapist} if therapist is not None else {"facility": facility}


@transaction.atomic
def feed_token_revoke(*, therapist: Therapist | None = None, facility: Facility | None = None) -> int:
    owner = _owner_filter(therapist=therapist, facility=facility)
    return FeedToken.objects.filter(**owner, revoked_at__isnull=True).update(revoked_at=timezone.now())


@transaction.atomic
def feed_token_rotate(*, therapist: Therapist | None = None, facility: Facility | None = None) -> tuple[FeedToken, str]:
    """Revoke the active token (its URL then answers 404) and make a new one; returns it with the secret."""
    # Lock the owner so two rotations at once (or two first GETs of /me/feed) leave one active token.
    owner_kw = _owner_filter(therapist=therapist, facility=facility)
    (owner,) = owner_kw.values()
    type(owner).objects.select_for_update().filter(pk=owner.pk).first()
    feed_token_revoke(therapist=therapist, facility=facility)
    token = secrets.token_urlsafe(TOKEN_BYTES)
    feed_token = FeedToken(**owner_kw, token_hash=feed_token_hash(token))
    feed_token.full_clean()
    feed_token.save()
    return feed_token, token


def feed_token_resolve(*, token: str) -> FeedToken | None:
    """The active token for a presented secret, or None. Looked up by hash, then compared in constant time.

    A therapist who is deactivated (or whose login is) stops reading the feed at once: it carries door codes
    and precautions. Reactivating them brings the same URL back.
    """
    presented = feed_token_hash(token)
    feed_token = (
        FeedToken.objects.select_related("therapist__organization", "therapist__user", "facility__organization")
        .filter(token_hash=presented, revoked_at__isnull=True)
        .first()
    )
    if feed_token is None or not hmac.compare_digest(feed_token.token_hash, presented):
        return None
    if feed_token.therapist_id and not (feed_token.therapist.active and feed_token.therapist.user.is_active):
        return None
    return feed_token


def feed_urls(*, feed_token: FeedToken, token: str) -> FeedUrls:
    kind = "therapists" if feed_token.therapist_id else "facilities"
    base = settings.ROUNDS_PUBLIC_URL.rstrip("/")
    https_url = f"{base}/feeds/{kind}/{token}.ics"
    parts = urlsplit(https_url)
    return FeedUrls(https_url=https_url, webcal_url=f"webcal://{parts.netloc}{parts.path}")
