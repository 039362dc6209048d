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
        key = f"{self.key}:{window}"
        try:
            count = self.cache.incr(key)
        except ValueError:  # the window's first request (or its counter expired a moment ago)
            count = 1 if self.cache.add(key, 1, timeout=self.duration) else self.cache.incr(key)
        return count <= self.num_requests

    def wait(self) -> float:
        return max(0.0, self.window_end - self.now)


class ScopedFixedWindowRateThrottle(ScopedRateThrottle, FixedWindowRateThrottle):
    """ScopedRateThrottle's scope and rate from the view (throttle_scope), then counted in fixed windows."""
