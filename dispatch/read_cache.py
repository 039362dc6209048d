"""Cached reads that are costly to build (a large agency's board or schedule): one builder at a time per key.

When a key moves (a change, or the minute on today's board), every reader at that moment would otherwise
build the same answer at once and the server would spend seconds of CPU per reader. The first takes a
short lock and builds; the others wait for its answer, or are given the answer it replaces when that is
allowed (today's board of the minute before: the clock moved, nothing changed).

Such an answer is assembled from parts (a therapist's day), each cached with the version it was built under:
only the parts whose version moved are built again, together in one batch.
"""
from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from typing import Any

from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.utils.cache import get_conditional_response

from dispatch.cache_versions import part_versions_and

LOCK_S = 30  # longer than any build; a builder that died frees the key after this
WAIT_STEP_S = 0.02
# Parts are keyed on their versions, so they can be kept long: long enough that a quiet day's parts do not all
# expire at once and make a read build the whole day again (the assembled answer still goes after a few minutes).
PART_CACHE_S = 12 * 3600


def cached_build(*, key: str, build: Callable[[], Any], timeout: int, stale_key: str | None = None) -> Any:
    value = cache.get(key)
    if value is not None:
        return value
    lock = f"{key}:building"
    deadline = time.monotonic() + LOCK_S
    while not cache.add(lock, 1, timeout=LOCK_S):
        if stale_key is not None and (stale := cache.get(stale_key)) is not None:
            return stale
        time.sleep(WAIT_STEP_S)
        value = cache.get(key)
        if value is not None:
            return value
        if time.monotonic() > deadline:
            break
    try:
        value = build()
        cache.set(key, value, timeout)
    finally:
        cache.delete(lock)
    return value


def cached_stamped(*, key: str, stamp: object, build: Callable[[], Any], timeout: int) -> Any:
    """What was cached under key if it was built under stamp (a version), else built now."""
    held = cache.get(key)
    if held is not None and held[0] == stamp:
        return held[1]
    value = build()
    cache.set(key, (stamp, value), timeout)
    return value


def day_parts(
    *, kind: str, organization_id: int, org_version: int, day, parts: list, build: Callable[[list], dict],
    timeout: int = PART_CACHE_S, fresh: Callable[[Any], bool] | None = None,
) -> list:
    """Each part's value on day, in the order of parts: from the cache (one round trip with their versions) when
    it was built under the part's current version (and, with fresh, fresh(value) says it still holds), else from
    build(the parts missing), called once for all."""
    keys = [f"{kind}-part:{organization_id}:{org_version}:{day}:{part}" for part in parts]
    versions, found = part_versions_and(organization_id=organization_id, day=day, parts=parts, keys=keys)
    values, missing = {}, {}
    for part, key, version in zip(parts, keys, versions, strict=True):
        held = found.get(key)
        if held is not None and held[0] == version and (fresh is None or fresh(held[1])):
            values[part] = held[1]
        else:
            missing[part] = (key, version)
    if missing:
        built = build(list(missing))
        cache.set_many({key: (version, built.get(part)) for part, (key, version) in missing.items()}, timeout)
        values.update({part: built.get(part) for part in missing})
    return [values[part] for part in parts]


def key_etag(key: str) -> str:
    """Each cached key names its content (its versions are in it), so its hash is the content's ETag."""
    return f'"{hashlib.sha256(key.encode()).hexdigest()[:32]}"'


def revalidated(request: HttpRequest, etag: str) -> HttpResponse | None:
    """The 304 when the client holds that content already (an open board's reload, an API client's poll with the
    ETag it last got), answered without reading the cached body; else None. Private, no-cache: revalidated each time."""
    headers = HttpResponse()
    headers["ETag"], headers["Cache-Control"] = etag, "private, no-cache"
    answer = get_conditional_response(request, etag=etag, response=headers)
    return None if answer is headers else answer
