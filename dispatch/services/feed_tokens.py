"""Calendar subscription secrets: only the SHA-256 is stored, so a URL can be shown once, when it is made."""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
import zoneinfo
from dataclasses import astuple, dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from dispatch.cache_versions import feed_access_versions
from dispatch.models import Facility, FeedToken, Role, Therapist, User
from dispatch.selectors.feeds import feed_token_owner

TOKEN_BYTES = 32  # 256 bits, well over the 128 the issue asks for


@dataclass(frozen=True)
class FeedUrls:
    url: str
    webcal_url: str


@dataclass(frozen=True)
class FeedHolder:
    """Whose feed a secret opens: what an unchanged feed's poll needs, read with the token in one lean query."""

    token_id: int
    kind: str  # "therapist" or "facility"
    owner_id: int
    organization_id: int
    timezone: str

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)


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


# The token and what its holder's entitlement rests on, as values: a poll arrives every few seconds across an
# agency's calendars, and building the seven model instances of the select_related() this was (and compiling its
# ORDER BY) was half of an unchanged feed's CPU.
_HOLDER_FIELDS = (
    "pk", "token_hash", "therapist_id", "facility_id", "user_id",
    "therapist__active", "therapist__user__is_active", "therapist__organization_id", "therapist__organization__timezone",
    "facility__organization_id", "facility__organization__timezone",
    "user__is_active", "user__role", "user__facility_id",
)


@functools.cache
def _holders() -> QuerySet:
    # Made once: values() with joins costs as much to set up as the query takes to run.
    return FeedToken.objects.filter(revoked_at__isnull=True).values(*_HOLDER_FIELDS)


_PRESENTED = "presented-token-hash"  # stands for the hash in the query compiled once


@functools.cache
def _holder_query(vendor: str) -> tuple[str, tuple, int]:
    """The holder query as SQL, compiled by the ORM once per database kind, with where its hash parameter goes.

    Compiling the filtered values() query on each poll was 0.7 ms, about 40 % of an unchanged feed's 304 (profiled
    through the WSGI handler); executing the same SQL with a new parameter gives the same rows."""
    sql, params = _holders().filter(token_hash=_PRESENTED)[:1].query.sql_with_params()
    return sql, params, params.index(_PRESENTED)


def _holder_row(presented: str) -> dict | None:
    sql, params, at = _holder_query(connection.vendor)
    with connection.cursor() as cursor:
        cursor.execute(sql, (*params[:at], presented, *params[at + 1:]))
        row = cursor.fetchone()
    # values() selects its fields in the order they were named.
    return None if row is None else dict(zip(_HOLDER_FIELDS, row, strict=True))


def _holder_may_read(row: dict) -> bool:
    """The feed says where a therapist goes and whom they see (therapist) or who is where (facility): only while
    entitled."""
    if row["therapist_id"]:
        return bool(row["therapist__active"] and row["therapist__user__is_active"])
    if row["user_id"] is None:
        return True
    return bool(row["user__is_active"] and row["user__role"] == Role.FACILITY_STAFF
                and row["user__facility_id"] == row["facility_id"])


def feed_token_resolve(*, token: str) -> FeedHolder | None:
    """Whose feed an active token for a presented secret opens, or None. Looked up by hash, then compared in
    constant time.

    A deactivated therapist, or a staff member who left or moved to another facility, stops reading at once;
    reactivating a therapist brings the same URL back.
    """
    presented = feed_token_hash(token)
    row = _holder_row(presented)
    if row is None or not hmac.compare_digest(row["token_hash"], presented) or not _holder_may_read(row):
        return None
    kind = "therapist" if row["therapist_id"] else "facility"
    return FeedHolder(
        token_id=row["pk"], kind=kind, owner_id=row[f"{kind}_id"], organization_id=row[f"{kind}__organization_id"],
        timezone=row[f"{kind}__organization__timezone"],
    )


# Under the token's hash (the secret itself never reaches the cache). Only secrets that opened a feed are kept: a
# guessed one costs its query each time, under the throttle.
HOLDER_KEY = "feed-holder:1:{hash}"  # 1: the layout of what is kept (FeedHolder's fields, in order)
HOLDER_CACHE_S = 3600  # believed only while the access versions stand; this bounds what an idle URL holds


def feed_holder_key(token: str) -> str:
    return HOLDER_KEY.format(hash=feed_token_hash(token))


def feed_holder_kept(value) -> tuple[FeedHolder, tuple[int, int]] | None:
    """What the cache held under feed_holder_key, as the holder and the access versions it was read under."""
    if value is None:
        return None
    fields, seen = value
    return FeedHolder(*fields), tuple(seen)


def feed_holder_forget(*, token_hash: str) -> None:
    """A token saved (revoked) or deleted: its cached holder goes now and again after commit, so a poll that read
    the row before the commit does not keep it."""
    key = HOLDER_KEY.format(hash=token_hash)
    cache.delete(key)
    transaction.on_commit(lambda: cache.delete(key))


def feed_token_resolve_and_keep(*, token: str, organization_id: int | None = None) -> FeedHolder | None:
    """``feed_token_resolve``, kept in the cache with the feed access versions read before it (so a change made
    meanwhile has moved them past what is kept). organization_id: the holder's, if known (from what was cached)."""
    seen = feed_access_versions(organization_id) if organization_id is not None else None
    holder = feed_token_resolve(token=token)
    if holder is None:
        return None
    if holder.organization_id != organization_id:
        # Its organisation was not known before the query: read the versions, then the holder again after them.
        organization_id = holder.organization_id
        seen = feed_access_versions(organization_id)
        holder = feed_token_resolve(token=token)
        if holder is None:
            return None
    if holder.organization_id == organization_id:
        # Plain values, not the dataclass pickled: a deploy that changes FeedHolder changes the key's layout number.
        cache.set(feed_holder_key(token), (astuple(holder), seen), HOLDER_CACHE_S)
    return holder


def feed_urls(*, feed_token: FeedToken, token: str) -> FeedUrls:
    kind = "therapists" if feed_token.therapist_id else "facilities"
    base = settings.ROUNDS_PUBLIC_URL.rstrip("/")
    url = f"{base}/feeds/{kind}/{token}.ics"
    parts = urlsplit(url)
    return FeedUrls(url=url, webcal_url=f"webcal://{parts.netloc}{parts.path}")
