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
