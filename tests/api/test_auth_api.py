from __future__ import annotations

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient
from rest_framework.throttling import ScopedRateThrottle


@pytest.fixture
def clean_throttle():
    cache.clear()
    yield
    cache.clear()


def test_token_login_is_throttled_under_the_login_scope(world, clean_throttle, monkeypatch):
    # The rates are read into the class at import; a low limit keeps the test short.
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {**ScopedRateThrottle.THROTTLE_RATES, "login": "3/min"})
    client = APIClient()
    body = {"username": world.coordinator.username, "password": "wrong"}
    statuses = [client.post("/api/v1/auth/token", body).status_code for _ in range(4)]
    assert statuses == [400, 400, 400, 429]


def test_session_login_authenticates_api_requests(world):
    client = APIClient()
    client.login(username=world.staff_x.username, password="pw-rounds-test")
    assert client.get("/api/v1/me").json()["role"] == "facility_staff"
