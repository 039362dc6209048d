"""Cached reads that are costly to build (a large agency's board or schedule): one builder at a time per key.

When a key moves (a change, or the minute on today's board), every reader at that moment would otherwise
build the same answer at once and the server would spend seconds of CPU per reader. The first takes a
short lock and builds; the others wait for its answer, or are given the answer it replaces when that is
allowed (today's board of the minute before: the clock moved, nothing changed).
"""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from django.core.cache import cache

LOCK_S = 30  # longer than any build; a builder that died frees the key after this
WAIT_STEP_S = 0.02


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
