"""Password guessing on the three sign-in routes, as an attacker would try it.

django-axes counts failures per username (from one address or from many), not per address alone: at the
limit that username's sign-in answers 429 (even to the right password) until the cool-off has passed, and
tries during the lockout do not extend it. Others signing in from the same address (a hospital's shared
network) are not affected; one address trying many usernames meets the per-address sign-in throttle
(scope "login", on all three routes). The client address is REMOTE_ADDR unless
ROUNDS_NUM_PROXIES says how many proxies in front may be trusted, so a forged X-Forwarded-For is
one more try from the same address, not a fresh start.
"""
from __future__ import annotations

import datetime as dt
import itertools

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth.hashers import Argon2PasswordHasher
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from dispatch.demo.seed import DEMO_PASSWORD
from tests import factories as f

PASSWORD = "pw-rounds-test"
LIMIT = settings.AXES_FAILURE_LIMIT
_addresses = (f"198.51.100.{n}" for n in itertools.count(1))


def board_login(client: Client, username: str, password: str, **extra):
    return client.post("/accounts/login/", {"username": username, "password": password}, **extra)


def admin_login(client: Client, username: str, password: str, **extra):
    return client.post("/admin/login/", {"username": username, "password": password, "next": "/admin/"}, **extra)


def api_login(client: Client, username: str, password: str, **extra):
    return client.post("/api/v1/auth/token", {"username": username, "password": password}, **extra)


def signed_in(route, response) -> bool:
    if route is api_login:
        return response.status_code == 200 and "token" in response.json()
    return response.status_code == 302 and "_auth_user_id" in response.wsgi_request.session


ROUTES = [board_login, admin_login, api_login]


@pytest.fixture
def staff_user(db):
    return f.UserFactory(is_staff=True)


@pytest.fixture(autouse=True)
def _no_rate_throttle(settings):
    """The API login's DRF throttle (20/min) would answer before axes does; it has a test of its own."""
    from django.core.cache import cache
    from rest_framework.throttling import ScopedRateThrottle

    rates = ScopedRateThrottle.THROTTLE_RATES
    ScopedRateThrottle.THROTTLE_RATES = {**rates, "login": "1000/min"}
    cache.clear()
    yield
    ScopedRateThrottle.THROTTLE_RATES = rates
    cache.clear()


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.__name__)
def test_the_right_password_after_the_limit_of_wrong_ones_is_refused_with_429(staff_user, route):
    client = APIClient()
    for _ in range(LIMIT):
        assert not signed_in(route, route(client, staff_user.username, "wrong-guess-123"))
    response = route(client, staff_user.username, PASSWORD)
    assert response.status_code == 429
    assert not signed_in(route, response)
    assert "Too many failed sign-ins" in response.content.decode()


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.__name__)
def test_a_forged_x_forwarded_for_on_every_try_does_not_reset_the_count(staff_user, route):
    client = APIClient()
    for _ in range(LIMIT):
        route(client, staff_user.username, "wrong-guess-123", HTTP_X_FORWARDED_FOR=next(_addresses))
    response = route(client, staff_user.username, PASSWORD, HTTP_X_FORWARDED_FOR=next(_addresses))
    assert response.status_code == 429
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"127.0.0.1"}


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.__name__)
def test_one_users_failures_do_not_lock_out_another_user_at_the_same_address(staff_user, route):
    colleague = f.UserFactory(is_staff=True)
    client = APIClient()
    for _ in range(LIMIT):
        route(client, staff_user.username, "wrong-guess-123")
    assert route(client, staff_user.username, PASSWORD).status_code == 429
    assert signed_in(route, route(APIClient(), colleague.username, PASSWORD))


def test_one_failure_each_across_many_accounts_from_one_address_locks_none_of_them(db):
    users = [f.UserFactory() for _ in range(LIMIT + 1)]
    client = APIClient()
    for user in users:
        api_login(client, user.username, "wrong-guess-123")
    assert all(api_login(client, user.username, PASSWORD).status_code == 200 for user in users)


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.__name__)
def test_one_address_trying_many_usernames_meets_the_sign_in_throttle(db, route):
    from rest_framework.throttling import ScopedRateThrottle

    ScopedRateThrottle.THROTTLE_RATES = {**ScopedRateThrottle.THROTTLE_RATES, "login": "3/min"}
    client = APIClient()
    statuses = [route(client, f"nobody-{n}", "wrong-guess-123").status_code for n in range(4)]
    assert statuses[3] == 429 and 429 not in statuses[:3]
    # From another address the routes still answer.
    assert route(APIClient(REMOTE_ADDR="203.0.113.9"), "nobody-5", "wrong-guess-123").status_code != 429


def test_the_sign_in_throttle_counts_all_three_routes_together(db):
    from rest_framework.throttling import ScopedRateThrottle

    ScopedRateThrottle.THROTTLE_RATES = {**ScopedRateThrottle.THROTTLE_RATES, "login": "3/min"}
    client = APIClient()
    for route in ROUTES:
        assert route(client, "nobody", "wrong-guess-123").status_code != 429
    assert board_login(client, "nobody-else", "wrong-guess-123").status_code == 429


def test_guessing_one_account_from_many_addresses_is_stopped(staff_user):
    for _ in range(LIMIT):
        board_login(Client(REMOTE_ADDR=next(_addresses)), staff_user.username, "wrong-guess-123")
    assert board_login(Client(REMOTE_ADDR=next(_addresses)), staff_user.username, PASSWORD).status_code == 429


def test_tries_during_the_lockout_do_not_extend_it(staff_user):
    client = APIClient()
    start = timezone.now()
    with f.clock_at(start) as clock:
        for _ in range(LIMIT):
            api_login(client, staff_user.username, "wrong-guess-123")
        clock.move_to(start + settings.AXES_COOLOFF_TIME - dt.timedelta(minutes=1))
        assert api_login(client, staff_user.username, "wrong-guess-123").status_code == 429
        assert api_login(client, staff_user.username, PASSWORD).status_code == 429
        clock.move_to(start + settings.AXES_COOLOFF_TIME + dt.timedelta(seconds=1))
        assert api_login(client, staff_user.username, PASSWORD).status_code == 200


def test_the_lockout_ends_after_the_cool_off(staff_user):
    client = APIClient()
    for _ in range(LIMIT):
        api_login(client, staff_user.username, "wrong-guess-123")
    assert api_login(client, staff_user.username, PASSWORD).status_code == 429
    AccessAttempt.objects.update(attempt_time=timezone.now() - settings.AXES_COOLOFF_TIME - dt.timedelta(seconds=1))
    assert api_login(client, staff_user.username, PASSWORD).status_code == 200


def test_behind_one_trusted_proxy_the_forwarded_address_is_the_client(staff_user, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    for _ in range(LIMIT):
        api_login(APIClient(), staff_user.username + "x", "wrong-guess-123", HTTP_X_FORWARDED_FOR="192.0.2.1")
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"192.0.2.1"}
    other_client = APIClient()
    assert api_login(other_client, staff_user.username, PASSWORD, HTTP_X_FORWARDED_FOR="192.0.2.2").status_code == 200


def test_the_api_login_rate_limit_counts_the_address_not_the_forwarded_header(staff_user):
    from rest_framework.throttling import ScopedRateThrottle

    ScopedRateThrottle.THROTTLE_RATES = {**ScopedRateThrottle.THROTTLE_RATES, "login": "3/min"}
    client = APIClient()
    statuses = [
        api_login(client, f"nobody-{n}", "wrong-guess-123", HTTP_X_FORWARDED_FOR=next(_addresses)).status_code
        for n in range(4)
    ]
    assert statuses == [400, 400, 400, 429]


def test_the_proxy_count_comes_from_the_environment_and_defaults_to_none_trusted():
    from config.settings import base

    assert base.ROUNDS_NUM_PROXIES == 0
    assert base.REST_FRAMEWORK["NUM_PROXIES"] == 0


@pytest.mark.parametrize("password", ["rounds-demo", "short-pw-1", "123456789012345", "password1234"])
def test_weak_passwords_are_refused(db, password):
    with pytest.raises(ValidationError):
        validate_password(password, f.UserFactory.build(username="coordinator"))


def test_the_demo_password_satisfies_the_validators_for_every_demo_user(db):
    from dispatch.demo.seed import demo_seed

    summary = demo_seed(day=f.tomorrow(), visits=5)
    for user in summary.organization.users.all():
        validate_password(DEMO_PASSWORD, user)
    assert Client().login(username="coordinator", password=DEMO_PASSWORD)


def test_argon2_hashes_new_passwords_outside_the_tests():
    from config.settings import base

    assert base.PASSWORD_HASHERS[0] == "django.contrib.auth.hashers.Argon2PasswordHasher"
    hasher = Argon2PasswordHasher()
    assert hasher.encode("a-long-enough-pass", hasher.salt()).startswith("argon2$argon2id$")
