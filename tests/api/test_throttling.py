"""Throttles keep one counter per client and window, not a list of every request's time."""
from __future__ import annotations

import os

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient
from rest_framework.throttling import ScopedRateThrottle

from api.feeds.views import FeedRateThrottle
from dispatch.services.feed_tokens import feed_token_hash, feed_token_rotate


def _counters(prefix: str) -> list:
    """What the (local-memory) cache holds for a throttle: its stored keys are ":<version>:<key>"."""
    return [cache.get(k.split(":", 2)[2]) for k in list(cache._cache) if prefix in k]


def test_a_polled_feed_keeps_one_integer_per_window(anonymous_client, therapist, monkeypatch):
    monkeypatch.setitem(FeedRateThrottle.THROTTLE_RATES, "feed", "3/min")
    _, token = feed_token_rotate(therapist=therapist)
    codes = [anonymous_client.get(f"/feeds/therapists/{token}.ics").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    assert _counters(f"throttle_feed_{feed_token_hash(token)}") == [4]  # one integer for this window


def test_the_refusal_says_when_the_window_ends(anonymous_client, therapist, monkeypatch):
    monkeypatch.setitem(FeedRateThrottle.THROTTLE_RATES, "feed", "1/min")
    _, token = feed_token_rotate(therapist=therapist)
    anonymous_client.get(f"/feeds/therapists/{token}.ics")
    refused = anonymous_client.get(f"/feeds/therapists/{token}.ics")
    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 60


def test_login_attempts_are_counted_in_fixed_windows_too(world, monkeypatch):
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {**ScopedRateThrottle.THROTTLE_RATES, "login": "2/min"})
    body = {"username": world.coordinator.username, "password": "wrong"}
    # Another address than the one the world's users signed in from (their logins count in this window too).
    client = APIClient(REMOTE_ADDR="192.0.2.44")
    assert [client.post("/api/v1/auth/token", body).status_code for _ in range(3)] == [400, 400, 429]
    assert _counters("throttle_login_192.0.2.44") == [3]


@pytest.mark.skipif(not os.environ.get("REDIS_TEST_URL"), reason="set REDIS_TEST_URL to a Redis database to use")
def test_on_redis_the_counter_is_one_integer_that_expires(anonymous_client, therapist, monkeypatch):
    from config.cache import SharedClientRedisCache

    redis_cache = SharedClientRedisCache(os.environ["REDIS_TEST_URL"], {"KEY_PREFIX": "throttle-test"})
    monkeypatch.setattr(FeedRateThrottle, "cache", redis_cache)
    monkeypatch.setitem(FeedRateThrottle.THROTTLE_RATES, "feed", "2/min")
    _, token = feed_token_rotate(therapist=therapist)
    codes = [anonymous_client.get(f"/feeds/therapists/{token}.ics").status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    client = redis_cache._cache.get_client()
    [name] = client.keys(f"throttle-test:*{feed_token_hash(token)}*")
    assert client.get(name) == b"3" and 0 < client.ttl(name) <= 60
    client.delete(name)
