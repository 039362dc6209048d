"""API clients signed in as real clients sign in: a token from POST /api/v1/auth/token."""
from __future__ import annotations

from rest_framework.test import APIClient

PASSWORD = "pw-rounds-test"  # tests/factories.UserFactory's


def signed_in(user) -> APIClient:
    response = APIClient().post("/api/v1/auth/token", {"username": user.username, "password": PASSWORD})
    assert response.status_code == 200, response.content
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
    return client
