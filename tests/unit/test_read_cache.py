"""A costly cached read is built by one request at a time; the others take its answer or the one it replaces."""
from __future__ import annotations

import pytest
from django.core.cache import cache

from dispatch.read_cache import cached_build


def test_a_cached_answer_is_not_built_again():
    built = []
    assert cached_build(key="k", build=lambda: built.append(1) or "fresh", timeout=60) == "fresh"
    assert cached_build(key="k", build=lambda: built.append(1) or "again", timeout=60) == "fresh"
    assert built == [1]


def test_while_another_request_builds_the_answer_it_replaces_is_given_when_allowed():
    cache.set("board-last-minute", "last minute's board")
    cache.add("board-this-minute:building", 1)  # another worker is building it
    answer = cached_build(key="board-this-minute", build=lambda: "built twice", timeout=60,
                          stale_key="board-last-minute")
    assert answer == "last minute's board"


def test_the_lock_is_freed_when_a_build_fails():
    def fails():
        raise RuntimeError("database gone")

    with pytest.raises(RuntimeError, match="database gone"):
        cached_build(key="k2", build=fails, timeout=60)
    assert cache.add("k2:building", 1)  # free again: the next request builds
