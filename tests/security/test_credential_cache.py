"""A credential's user is kept in the cache (dispatch.credential_cache), and every way of losing access still
refuses the very next request, with a real token from POST /api/v1/auth/token and a real board session."""
from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.test import Client
from django.utils import timezone
from knox.models import AuthToken

from dispatch import models as m
from tests import factories as f
from tests.security.test_tokens_and_sessions import board_session, token_for


@pytest.fixture
def warm(coordinator):
    """A token and a board session, each used once, so that the next request is served from the kept copy."""
    api, body = token_for(coordinator)
    board = board_session(coordinator)
    assert api.get("/api/v1/me").status_code == 200
    assert board.get(f"/board/data?date={f.tomorrow()}").status_code == 200
    return api, board, body


def test_a_kept_credential_reads_no_table(warm, django_assert_num_queries):
    api, board, _ = warm
    day = f.tomorrow()
    first = api.get(f"/api/v1/schedule?date={day}")  # the day itself, cached from here on
    with django_assert_num_queries(0):
        assert api.get(f"/api/v1/schedule?date={day}").content == first.content
    etag = board.get(f"/board/data?date={day}")["ETag"]
    with django_assert_num_queries(0):
        assert board.get(f"/board/data?date={day}", HTTP_IF_NONE_MATCH=etag).status_code == 304


def _user_saved_off(user):
    user.is_active = False
    user.save()


def _user_bulk_off(user):
    m.User.objects.filter(pk=user.pk).update(is_active=False)


def _user_deleted(user):
    user.delete()


@pytest.mark.parametrize("lose", [_user_saved_off, _user_bulk_off, _user_deleted])
def test_a_user_switched_off_or_deleted_is_refused_at_once(warm, coordinator, lose):
    api, board, _ = warm
    lose(coordinator)
    assert api.get("/api/v1/me").status_code == 401
    assert board.get(f"/board/data?date={f.tomorrow()}").status_code == 401


def test_a_role_taken_away_applies_to_the_next_request(warm, coordinator, organization):
    api, board, _ = warm
    coordinator.role = m.Role.FACILITY_STAFF
    coordinator.facility = f.FacilityFactory(organization=organization)
    coordinator.save()
    assert api.get(f"/api/v1/schedule?date={f.tomorrow()}").status_code == 403
    assert api.get("/api/v1/me").json()["role"] == m.Role.FACILITY_STAFF
    assert board.get(f"/board/data?date={f.tomorrow()}").status_code in (401, 403)


def test_a_changed_password_ends_the_board_session(warm, coordinator):
    _, board, _ = warm
    coordinator.set_password("a-new-secret-phrase")
    coordinator.save()
    assert board.get(f"/board/data?date={f.tomorrow()}").status_code == 401


def test_the_organisations_new_time_zone_is_read_at_once(warm, organization):
    api, _, _ = warm
    organization.timezone = "Europe/Berlin"
    organization.save()
    assert api.get("/api/v1/me").status_code == 200
    created = api.get("/api/v1/auth/tokens").json()[0]["created"]
    assert dt.datetime.fromisoformat(created).utcoffset() in (dt.timedelta(hours=1), dt.timedelta(hours=2))


def test_a_therapist_switched_off_through_the_api_is_refused_at_once(organization, coordinator_client):
    therapist = f.TherapistFactory(organization=organization)
    api, _ = token_for(therapist.user)
    board = board_session(therapist.user)
    assert api.get("/api/v1/me").status_code == 200
    assert board.get("/app/").status_code == 200
    assert coordinator_client.patch(f"/api/v1/therapists/{therapist.pk}", {"active": False}, format="json").status_code == 200
    assert api.get("/api/v1/me").status_code == 401
    assert board.get("/app/").status_code == 302


def test_a_revoked_token_is_refused_but_the_owners_other_token_still_works(warm, coordinator):
    api, _, body = warm
    other, _ = token_for(coordinator)
    assert other.get("/api/v1/me").status_code == 200
    assert other.delete(f"/api/v1/auth/tokens/{body['id']}").status_code == 204
    assert api.get("/api/v1/me").status_code == 401
    assert other.get("/api/v1/me").status_code == 200


def test_a_token_deleted_in_the_admin_is_refused(warm, coordinator):
    api, _, body = warm
    AuthToken.objects.get(token_key=body["id"]).delete()
    assert api.get("/api/v1/me").status_code == 401


def test_a_kept_token_still_has_its_expiry_renewed_in_the_database(warm, coordinator, settings):
    api, _, body = warm
    interval = dt.timedelta(seconds=settings.REST_KNOX["MIN_REFRESH_INTERVAL"])
    before = AuthToken.objects.get(token_key=body["id"]).expiry
    with time_machine.travel(timezone.now() + interval * 2, tick=False):
        assert api.get("/api/v1/me").status_code == 200
        renewed = AuthToken.objects.get(token_key=body["id"]).expiry
        assert renewed - before >= interval * 2 - dt.timedelta(seconds=5)
        assert api.get("/api/v1/me").status_code == 200


def test_a_wrong_token_is_refused_and_nothing_is_kept_for_it(db):
    from django.core.cache import cache

    client = Client()
    forged = "0" * 64
    assert client.get("/api/v1/me", HTTP_AUTHORIZATION=f"Token {forged}").status_code == 401
    assert client.get("/api/v1/me", HTTP_AUTHORIZATION=f"Token {forged}").status_code == 401
    assert not [k for k in getattr(cache, "_cache", {}) if "credential" in str(k)]


def test_a_kept_session_belongs_to_its_user_only(organization, coordinator):
    other = f.UserFactory(organization=organization)
    mine, theirs = board_session(coordinator), board_session(other)
    for _ in range(2):
        assert mine.get("/api/v1/me").json()["username"] == coordinator.username
        assert theirs.get("/api/v1/me").json()["username"] == other.username
