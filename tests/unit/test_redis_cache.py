"""The Redis cache production runs (config.cache): one redis-py client per pool, shared by every call and thread."""
from __future__ import annotations

import os
import threading

import pytest
from config.cache import SharedClientRedisCache

pytestmark = pytest.mark.skipif(not os.environ.get("REDIS_TEST_URL"), reason="set REDIS_TEST_URL to a Redis database")


@pytest.fixture
def cache():
    backend = SharedClientRedisCache(os.environ["REDIS_TEST_URL"], {"KEY_PREFIX": "shared-client-test"})
    yield backend
    backend.clear()


def test_every_call_uses_the_same_client_and_the_cache_still_works(cache):
    assert cache._cache.get_client() is cache._cache.get_client(write=True)
    cache.set("a", {"n": 1}, 30)
    cache.set_many({"b": 2, "c": [3]}, 30)
    assert cache.get("a") == {"n": 1} and cache.get_many(["b", "c", "d"]) == {"b": 2, "c": [3]}
    assert cache.incr("b") == 3 and cache.delete("a") and cache.get("a") is None


def test_threads_sharing_the_client_each_get_their_own_answers(cache):
    errors: list[str] = []

    def work(n: int) -> None:
        for i in range(50):
            cache.set(f"t{n}", i, 30)
            if cache.get(f"t{n}") != i:
                errors.append(f"thread {n} read another value at {i}")

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(cache._cache._clients) == 1


@pytest.fixture
def redis_default_cache():
    from django.core.cache import cache as default
    from django.test import override_settings

    settings = {"BACKEND": "config.cache.SharedClientRedisCache", "LOCATION": os.environ["REDIS_TEST_URL"],
                "KEY_PREFIX": "bump-test"}
    with override_settings(CACHES={"default": settings}):
        yield default
        default.clear()


def test_counters_move_in_one_round_trip_and_a_missing_one_takes_a_value_never_used(
    redis_default_cache, monkeypatch
):
    import time

    from redis.connection import Connection

    from dispatch import cache_versions

    redis_default_cache.set("kept", 41, timeout=None)
    before = time.time_ns()
    sent = []
    send = Connection.send_packed_command
    monkeypatch.setattr(Connection, "send_packed_command", lambda self, *a, **kw: sent.append(a) or send(self, *a, **kw))
    cache_versions._bump_all(["kept", "missing", "missing-too"])
    assert len(sent) == 1
    found = redis_default_cache.get_many(["kept", "missing", "missing-too"])
    assert found["kept"] == 42
    assert found["missing"] > before and found["missing-too"] > before


def test_on_redis_a_booking_shows_on_the_next_schedule_read(redis_default_cache, organization, coordinator):
    from dispatch.services.booking import visit_book
    from tests import factories as f
    from tests.clients import signed_in

    therapist = f.TherapistFactory(organization=organization)
    visit = f.VisitFactory(organization=organization, windows=[("08:00", "16:00")])
    client = signed_in(coordinator)
    url = f"/api/v1/schedule?date={visit.date}"
    first = client.get(url)
    assert [d["visits"] for d in first.json()] == [[]]
    visit_book(visit=visit, therapist=therapist, planned_start=f.local(visit.date, "09:00"), by=coordinator)
    moved = client.get(url, HTTP_IF_NONE_MATCH=first["ETag"])
    assert moved.status_code == 200
    assert [v["id"] for d in moved.json() for v in d["visits"]] == [visit.pk]


def test_the_c_reply_parser_is_installed_and_used(cache):
    from redis.utils import HIREDIS_AVAILABLE

    assert HIREDIS_AVAILABLE  # requirements.txt pins hiredis; redis-py picks it up by itself
    cache.set_many({f"k{n}": bytes([n]) * 100 for n in range(200)}, 30)
    assert cache.get_many([f"k{n}" for n in range(200)]) == {f"k{n}": bytes([n]) * 100 for n in range(200)}


def test_long_keys_are_stored_without_memcached_warnings(cache, recwarn):
    key = "board-row-today-part:" + "x" * 300
    cache.set(key, b"row", 30)
    assert cache.get(key) == b"row"
    assert not [w for w in recwarn if "memcached" in str(w.message).lower()]
