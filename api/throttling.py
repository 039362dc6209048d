"""Rate limits that keep one small counter per client and window.

DRF's SimpleRateThrottle keeps, per client, the list of every request's timestamp over the last
period in one cache entry, read, trimmed and written back whole on each request: at the feed's
120/min that is up to 120 floats moved twice per poll, and two requests at once overwrite each
other's list (both pass). A fixed window is one integer per client per window, moved by an atomic
cache.incr (Redis INCR), so its size and cost are constant and concurrent requests all count.
The price is that a client may spend two windows' allowance across a boundary, which is within
what these limits are for (polling calendars, password guessing next to django-axes).
"""
from __future__ import annotations

from django.core.cache import DEFAULT_CACHE_ALIAS, caches
from django.core.cache import cache as default_cache
from django.core.cache.backends.redis import RedisCache
from rest_framework.throttling import ScopedRateThrottle, SimpleRateThrottle


class FixedWindowRateThrottle(SimpleRateThrottle):
    def allow_request(self, request, view) -> bool:
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        self.now = self.timer()
        window = int(self.now // self.duration)
        self.window_end = (window + 1) * self.duration
        also = self.also_get(request, view)
        count, found = self._count(f"{self.key}:{window}", also)
        if also:
            view.throttle_found = found
        return count <= self.num_requests

    def also_get(self, request, view) -> list[str]:
        """Cache keys the view reads first, fetched in the throttle's own round trip; the view finds what the cache
        held under them in ``view.throttle_found`` (unset when the throttle did not count)."""
        return []

    def _count(self, key: str, also: list[str]) -> tuple[int, dict]:
        # DRF's default is django.core.cache.cache, a proxy to this thread's backend, which is never a RedisCache
        # itself: without this, production took the two-round-trip path below.
        backend = caches[DEFAULT_CACHE_ALIAS] if self.cache is default_cache else self.cache
        if isinstance(backend, RedisCache):
            # One round trip, on every throttled request: INCR makes the window's counter at 1 if it is new, EXPIRE
            # lets it go one window after its last use (Django's incr() asks EXISTS first and cannot set a timeout).
            # No MULTI/EXEC around them: INCR is atomic alone, and an EXPIRE another client's command lands before
            # only lets a window's counter go later; the transaction was two more replies to parse on every poll.
            name = backend.make_and_validate_key(key)
            pipeline = backend._cache.get_client(name, write=True).pipeline(transaction=False)
            pipeline.incr(name).expire(name, self.duration)
            for other in also:
                pipeline.get(backend.make_and_validate_key(other))
            count, _, *values = pipeline.execute()
            # Read back as RedisCache.get() does.
            loads = backend._cache._serializer.loads
            return count, {k: loads(v) for k, v in zip(also, values, strict=True) if v is not None}
        found = backend.get_many(also) if also else {}
        try:
            return backend.incr(key), found
        except ValueError:  # the window's first request (or its counter expired a moment ago)
            return (1 if backend.add(key, 1, timeout=self.duration) else backend.incr(key)), found

    def wait(self) -> float:
        return max(0.0, self.window_end - self.now)


class ScopedFixedWindowRateThrottle(ScopedRateThrottle, FixedWindowRateThrottle):
    """ScopedRateThrottle's scope and rate from the view (throttle_scope), then counted in fixed windows."""
