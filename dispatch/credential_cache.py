"""Whom a credential signs in, kept in the cache so that a reload reads no table.

Every API request and every board reload read its user again (with the organisation and the therapist record,
which decide whether they may still be in): one query with two joins that the ORM compiled each time, over half
of the CPU of a cached read's 304 (profiled on `make load`'s agency: schedule 304 1.8 ms of which 0.69 ms the
token's query; board 304 1.9 ms of which 0.53 ms the session's user). The user is kept here, pickled with those
two, under the credential (an API token's digest, never the token; a session's user id) and believed only while
the organisation's access versions it was read under stand: the ones the feed holders are checked against
(dispatch.cache_versions), moved by every save or delete of a user, therapist, facility or organisation and by a
QuerySet.update() of them. An API token's own save or delete drops its entry (dispatch.cache_versions).

A miss reads the versions before the row, so a change committed meanwhile has moved them past what is kept.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from django.core.cache import cache
from django.db import transaction

from dispatch.cache_versions import feed_access_versions

KEY = "credential:{kind}:{ident}"
KEPT_S = 3600  # the versions decide what is believed; this only bounds what an idle credential holds
T = TypeVar("T")


def credential_key(kind: str, ident: object) -> str:
    return KEY.format(kind=kind, ident=ident)


def credential_read(
    *, key: str, read: Callable[[], T | None], organization_of: Callable[[T], int | None]
) -> T | None:
    """What read() gives, from the cache while the organisation's access versions stand, else read again and kept.

    read: the database read (None when the credential opens nothing); organization_of: its organisation's id.
    """
    kept = cache.get(key)
    organization_id = None
    if kept is not None:
        organization_id, seen, value = kept
        versions = feed_access_versions(organization_id)
        if versions == tuple(seen):
            return value
    value = read()
    if value is None or organization_of(value) is None:
        return value  # nothing it opens, or no organisation (a superuser made by hand) to check it against: not kept
    if organization_of(value) != organization_id:
        # Its organisation was not known before the read (a first use): the versions first, then the row again.
        organization_id = organization_of(value)
        versions = feed_access_versions(organization_id)
        value = read()
        if value is None or organization_of(value) != organization_id:
            return value
    cache.set(key, (organization_id, versions, value), KEPT_S)
    return value


def credential_forget(key: str) -> None:
    """Now, and again after commit: a request that read the row before the commit does not keep it."""
    cache.delete(key)
    transaction.on_commit(lambda: cache.delete(key))
