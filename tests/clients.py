"""API clients signed in the way real clients sign in, not with force_authenticate."""
from __future__ import annotations

from rest_framework.test import APIClient

from tests.factories import PASSWORD


def token_client(user, *, password: str = PASSWORD) -> APIClient:
    """POST /api/v1/auth/token with the user's password, then send ``Authorization: Token <token>``.

    The login route is throttled (ROUNDS_LOGIN_THROTTLE per address): a fixture signing in many users clears the
    cache first.
    """
    client = APIClient()
    response = client.post("/api/v1/auth/token", {"username": user.username, "password": password}, format="json")
    assert response.status_code == 200, f"sign-in of {user.username}: {response.status_code} {response.content!r}"
    client.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
    return client
