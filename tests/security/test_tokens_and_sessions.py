"""API tokens (hashed, expiring, listed and revoked by their owner), session limits, and switched-off users.

Every request goes through the production URLs with real credentials: a token from
POST /api/v1/auth/token, a session from the board's log-in page.
"""
from __future__ import annotations

import datetime as dt
import time

import pytest
import time_machine
from django.contrib.sessions.models import Session
from django.db import connection
from django.test import Client
from django.utils import timezone
from knox.models import AuthToken
from rest_framework.test import APIClient

from config.sessions import LOGGED_IN_AT
from dispatch import models as m
from dispatch.services.feed_tokens import feed_token_rotate
from tests import factories as f

PASSWORD = "pw-rounds-test"


def token_for(user) -> tuple[APIClient, dict]:
    response = APIClient().post("/api/v1/auth/token", {"username": user.username, "password": PASSWORD})
    assert response.status_code == 200, response.content
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
    return client, response.json()


def board_session(user) -> Client:
    client = Client()
    assert client.post("/accounts/login/", {"username": user.username, "password": PASSWORD}).status_code == 302
    return client


def test_the_token_login_answers_the_token_its_id_and_expiry(coordinator):
    _, body = token_for(coordinator)
    assert set(body) == {"token", "id", "created", "expiry"}
    expiry = dt.datetime.fromisoformat(body["expiry"])
    assert dt.timedelta(days=29) < expiry - timezone.now() <= dt.timedelta(days=30)


def test_the_token_is_stored_only_as_a_hash(coordinator):
    _, body = token_for(coordinator)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {AuthToken._meta.db_table}")
        stored = " ".join(str(v) for row in cursor.fetchall() for v in row)
    assert body["token"] not in stored
    assert body["id"] in stored and len(body["id"]) < len(body["token"]) / 2


def test_a_token_unused_for_the_idle_period_stops_working(coordinator, settings):
    client, _ = token_for(coordinator)
    with time_machine.travel(timezone.now(), tick=False) as clock:
        assert client.get("/api/v1/me").status_code == 200  # kept in the cache from here on, with its expiry
        clock.shift(settings.REST_KNOX["TOKEN_TTL"] + dt.timedelta(seconds=1))
        assert client.get("/api/v1/me").status_code == 401


def test_using_a_token_moves_its_expiry_on(coordinator):
    client, body = token_for(coordinator)
    AuthToken.objects.filter(token_key=body["id"]).update(expiry=timezone.now() + dt.timedelta(days=2))
    assert client.get("/api/v1/me").status_code == 200
    expiry = AuthToken.objects.get(token_key=body["id"]).expiry
    assert expiry - timezone.now() > dt.timedelta(days=29)


def test_the_owner_lists_and_revokes_their_tokens_and_nobody_elses(coordinator, organization):
    client, first = token_for(coordinator)
    _, second = token_for(coordinator)
    colleague_client, colleague = token_for(f.UserFactory(organization=organization))
    listed = client.get("/api/v1/auth/tokens").json()
    assert {t["id"] for t in listed} == {first["id"], second["id"]}
    assert all("token" not in t for t in listed)
    assert client.delete(f"/api/v1/auth/tokens/{colleague['id']}").status_code == 404
    assert colleague_client.get("/api/v1/me").status_code == 200
    assert client.delete(f"/api/v1/auth/tokens/{second['id']}").status_code == 204
    assert {t["id"] for t in client.get("/api/v1/auth/tokens").json()} == {first["id"]}
    assert client.delete(f"/api/v1/auth/tokens/{first['id']}").status_code == 204
    assert client.get("/api/v1/me").status_code == 401  # revoked the very token it was using


def test_logging_in_past_the_token_limit_revokes_the_oldest_token(coordinator, settings, monkeypatch):
    from rest_framework.throttling import ScopedRateThrottle

    # More log-ins than the per-minute rate allows; the rate has its own test.
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {**ScopedRateThrottle.THROTTLE_RATES, "login": "100/min"})
    limit = settings.REST_KNOX["TOKEN_LIMIT_PER_USER"]
    oldest, _ = token_for(coordinator)
    for _ in range(limit):
        newest, _ = token_for(coordinator)
    assert AuthToken.objects.filter(user=coordinator).count() == limit
    assert oldest.get("/api/v1/me").status_code == 401
    assert newest.get("/api/v1/me").status_code == 200


def test_the_demo_banner_prints_working_tokens_and_replaces_the_previous_ones(db, capsys):
    from django.core.management import call_command

    from dispatch.demo.seed import demo_seed

    demo_seed(day=f.tomorrow(), visits=5)

    def coordinator_token() -> str:
        call_command("demo_banner")
        line = next(x for x in capsys.readouterr().out.splitlines() if x.split()[:2] == ["coordinator", "coordinator"])
        return line.split()[-1]

    first = coordinator_token()
    second = coordinator_token()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {second}")
    assert client.get("/api/v1/me").json()["username"] == "coordinator"
    client.credentials(HTTP_AUTHORIZATION=f"Token {first}")
    assert client.get("/api/v1/me").status_code == 401


def test_wrong_credentials_get_no_token(coordinator):
    response = APIClient().post("/api/v1/auth/token", {"username": coordinator.username, "password": "wrong-guess"})
    assert response.status_code == 400 and "token" not in response.json()


# Sessions


def test_a_board_session_ends_after_the_idle_limit(coordinator, settings):
    assert settings.SESSION_COOKIE_AGE == 30 * 60
    with time_machine.travel(timezone.now(), tick=False) as clock:
        client = board_session(coordinator)
        assert client.get("/board/").status_code == 200
        # The session is read from the cache (written through to the database): both let it go at the idle limit.
        clock.shift(dt.timedelta(minutes=30, seconds=1))
        response = client.get("/board/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_a_used_session_has_its_idle_deadline_moved_on(coordinator):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        client = board_session(coordinator)
        for _ in range(3):  # an hour and a half of use, a request every 29 minutes
            clock.shift(dt.timedelta(minutes=29))
            assert client.get("/board/").status_code == 200
            assert Session.objects.get().expire_date - timezone.now() > dt.timedelta(minutes=29)


def test_a_session_cookie_kept_after_log_out_opens_nothing(coordinator):
    client = board_session(coordinator)
    assert client.get(f"/board/data?date={f.tomorrow()}").status_code == 200
    kept = client.cookies["sessionid"].value
    assert client.post("/accounts/logout/").status_code == 302
    replay = Client()
    replay.cookies["sessionid"] = kept  # the session was cached as well as stored: both are gone
    assert replay.get(f"/board/data?date={f.tomorrow()}").status_code == 401
    assert replay.get("/board/").status_code == 302


@pytest.mark.parametrize("path, refused", [("/board/", 302), ("/admin/", 302), ("/api/v1/me", 401)])
def test_a_session_ends_twelve_hours_after_log_in_however_busy(coordinator, settings, path, refused):
    assert settings.ROUNDS_SESSION_MAX_AGE_S == 12 * 3600
    coordinator.is_staff = True
    coordinator.save()
    client = board_session(coordinator)
    assert client.get(path).status_code == 200
    session = client.session
    session[LOGGED_IN_AT] = int(time.time()) - 12 * 3600 - 1
    session.save()
    assert client.get(path).status_code == refused
    assert not Session.objects.filter(session_key=session.session_key).exists()


# Switched-off users


def _switch_off(user, how: str) -> None:
    if how == "user":
        m.User.objects.filter(pk=user.pk).update(is_active=False)
    else:
        m.Therapist.objects.filter(user=user).update(active=False)


@pytest.mark.parametrize("how", ["user", "therapist"])
def test_a_switched_off_therapist_is_refused_at_once_with_token_session_and_feed(organization, how):
    therapist = f.TherapistFactory(organization=organization)
    visit = f.VisitFactory(organization=organization)
    visit.therapist, visit.status = therapist, m.VisitStatus.SCHEDULED
    visit.planned_start = f.local(visit.date, "09:00")
    visit.planned_end = visit.planned_busy_until = f.local(visit.date, "09:30")
    visit.save()
    api, _ = token_for(therapist.user)
    board = board_session(therapist.user)
    _, secret = feed_token_rotate(therapist=therapist)
    assert api.get("/api/v1/patients").status_code == 200
    assert board.get("/app/").status_code == 200
    assert board.get(f"/app/data?date={visit.date}").status_code == 200
    assert Client().get(f"/feeds/therapists/{secret}.ics").status_code == 200

    _switch_off(therapist.user, how)

    assert api.get("/api/v1/me").status_code == 401
    assert api.get("/api/v1/patients").status_code == 401
    assert api.post(f"/api/v1/visits/{visit.pk}/check-in", {}, format="json").status_code == 401
    for page in ("/app/", "/board/"):
        response = board.get(page)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/"), page
    assert board.get(f"/app/data?date={visit.date}").status_code == 401  # what the app's script reads
    assert board.get("/api/v1/patients").status_code == 401
    assert Client().get(f"/feeds/therapists/{secret}.ics").status_code == 404
    login = {"username": therapist.user.username, "password": PASSWORD}
    assert APIClient().post("/api/v1/auth/token", login).status_code == 400
    visit.refresh_from_db()
    assert visit.status == m.VisitStatus.SCHEDULED


def test_a_switched_off_coordinator_is_refused_at_once(coordinator):
    api, _ = token_for(coordinator)
    board = board_session(coordinator)
    _switch_off(coordinator, "user")
    assert api.get("/api/v1/visits").status_code == 401
    assert board.get("/board/").status_code == 302
