"""A feed secret's holder is kept in the cache, so an unchanged feed's 304 reads no table; losing the entitlement
answers 404 on the very next poll, however it is lost (a save, a bulk UPDATE, the API, a revocation, a deletion)."""
from __future__ import annotations

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from dispatch import models as m
from dispatch.cache_versions import feed_access_bump_all
from dispatch.services.feed_tokens import feed_holder_kept, feed_holder_key, feed_token_revoke, feed_token_rotate
from tests import factories as f
from tests.conftest import _client_for
from tests.feeds.conftest import local_at, scheduled_visit


def _url(token: str, kind: str = "therapists") -> str:
    return f"/feeds/{kind}/{token}.ics"


def _cached_304(client, url: str) -> None:
    """Polled until the holder and validator are cached: the second poll is a 304 that reads no table."""
    first = client.get(url)
    assert first.status_code == 200
    with CaptureQueriesContext(connection) as queries:
        again = client.get(url, HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304
    assert len(queries) == 0, [q["sql"] for q in queries]


@pytest.fixture
def staff_secret(facility):
    staff = f.FacilityStaffFactory(organization=facility.organization, facility=facility)
    _, secret = feed_token_rotate(facility=facility, user=staff)
    return staff, _url(secret, "facilities")


def test_an_unchanged_feeds_304_makes_no_database_query(anonymous_client, therapist, therapist_feed, facility_feed):
    scheduled_visit(therapist=therapist, start=local_at(1, "09:00"))
    _cached_304(anonymous_client, _url(therapist_feed[1]))
    _cached_304(anonymous_client, _url(facility_feed[1], "facilities"))


def test_a_change_elsewhere_in_the_organisation_costs_one_poll_its_query_and_nothing_else(
    anonymous_client, therapist, therapist_feed, organization
):
    url = _url(therapist_feed[1])
    etag = anonymous_client.get(url)["ETag"]
    _cached_304(anonymous_client, url)
    f.UserFactory(organization=organization)  # a new coordinator: moves the organisation's access version only
    with CaptureQueriesContext(connection) as queries:
        assert anonymous_client.get(url, HTTP_IF_NONE_MATCH=etag).status_code == 304
    assert len(queries) == 1  # the holder read again, and kept
    _cached_304(anonymous_client, url)


@pytest.mark.parametrize("how", ["save", "bulk update", "bulk_update", "api"])
def test_a_deactivated_therapist_answers_404_on_the_next_poll(
    anonymous_client, coordinator_client, therapist, therapist_feed, how
):
    url = _url(therapist_feed[1])
    _cached_304(anonymous_client, url)
    if how == "save":
        therapist.active = False
        therapist.save()
    elif how == "bulk update":
        m.Therapist.objects.filter(pk=therapist.pk).update(active=False)
    elif how == "bulk_update":
        therapist.active = False
        m.Therapist.objects.bulk_update([therapist], ["active"])
    else:
        response = coordinator_client.patch(f"/api/v1/therapists/{therapist.pk}", {"active": False}, format="json")
        assert response.status_code == 200, response.content
    assert anonymous_client.get(url).status_code == 404
    m.Therapist.objects.filter(pk=therapist.pk).update(active=True)
    assert anonymous_client.get(url).status_code == 200  # the same URL back


@pytest.mark.parametrize("how", ["save", "bulk update"])
def test_a_therapists_deactivated_user_answers_404_on_the_next_poll(anonymous_client, therapist, therapist_feed, how):
    url = _url(therapist_feed[1])
    _cached_304(anonymous_client, url)
    if how == "save":
        therapist.user.is_active = False
        therapist.user.save()
    else:
        m.User.objects.filter(pk=therapist.user_id).update(is_active=False)
    assert anonymous_client.get(url).status_code == 404


@pytest.mark.parametrize("change", ["deactivated", "moved facility", "role changed"])
@pytest.mark.parametrize("how", ["save", "bulk update"])
def test_staff_who_lose_their_facility_answer_404_on_the_next_poll(
    anonymous_client, organization, staff_secret, change, how
):
    staff, url = staff_secret
    other = f.FacilityFactory(organization=organization)
    _cached_304(anonymous_client, url)
    fields = {
        "deactivated": {"is_active": False},
        "moved facility": {"facility": other},
        "role changed": {"role": m.Role.COORDINATOR, "facility": None},
    }[change]
    if how == "save":
        for name, value in fields.items():
            setattr(staff, name, value)
        staff.save()
    else:
        m.User.objects.filter(pk=staff.pk).update(**fields)
    assert anonymous_client.get(url).status_code == 404


def test_a_sign_in_keeps_the_cached_holder(anonymous_client, staff_secret):
    staff, url = staff_secret
    _cached_304(anonymous_client, url)
    client = _client_for(staff)
    assert client.get("/api/v1/me").status_code == 200
    staff.save(update_fields=["last_login"])
    etag = anonymous_client.get(url)["ETag"]
    with CaptureQueriesContext(connection) as queries:
        assert anonymous_client.get(url, HTTP_IF_NONE_MATCH=etag).status_code == 304
    assert len(queries) == 0


def test_revoked_rotated_and_deleted_tokens_answer_404_on_the_next_poll(
    anonymous_client, coordinator_client, therapist_client, therapist, facility, staff_secret
):
    # Rotated through the API (the user's own URL).
    mine = therapist_client.get("/api/v1/me/feed").data["url"].split("/feeds/therapists/")[1].removesuffix(".ics")
    _cached_304(anonymous_client, _url(mine))
    assert therapist_client.post("/api/v1/me/feed/rotate").status_code == 201
    assert anonymous_client.get(_url(mine)).status_code == 404
    # Revoked through the API: the facility's shared URL and every staff URL.
    _, shared = feed_token_rotate(facility=facility)
    _cached_304(anonymous_client, _url(shared, "facilities"))
    _cached_304(anonymous_client, staff_secret[1])
    assert coordinator_client.delete(f"/api/v1/facilities/{facility.pk}/feed").status_code == 204
    assert anonymous_client.get(_url(shared, "facilities")).status_code == 404
    assert anonymous_client.get(staff_secret[1]).status_code == 404
    # Revoked by the service, and a token row deleted (as the admin does).
    _, secret = feed_token_rotate(therapist=therapist)
    _cached_304(anonymous_client, _url(secret))
    feed_token_revoke(therapist=therapist)
    assert anonymous_client.get(_url(secret)).status_code == 404
    token, secret = feed_token_rotate(therapist=therapist)
    _cached_304(anonymous_client, _url(secret))
    token.delete()
    assert anonymous_client.get(_url(secret)).status_code == 404


def test_a_token_saved_revoked_answers_404_on_the_next_poll(anonymous_client, therapist, therapist_feed):
    token, secret = therapist_feed
    _cached_304(anonymous_client, _url(secret))
    token.revoked_at = token.created_at
    token.save()
    assert anonymous_client.get(_url(secret)).status_code == 404


def test_a_change_made_in_raw_sql_is_seen_once_it_bumps_every_feeds_access(
    anonymous_client, therapist, therapist_feed
):
    url = _url(therapist_feed[1])
    _cached_304(anonymous_client, url)
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {m.Therapist._meta.db_table} SET active = false WHERE id = %s", [therapist.pk])
    feed_access_bump_all()  # what such a change must do (dispatch.models.signalling)
    assert anonymous_client.get(url).status_code == 404


def test_an_organisations_new_zone_is_read_with_the_holder_again(
    anonymous_client, therapist, therapist_feed, organization
):
    url = _url(therapist_feed[1])
    _cached_304(anonymous_client, url)
    assert feed_holder_kept(cache.get(feed_holder_key(therapist_feed[1])))[0].timezone == "America/Toronto"
    m.Organization.objects.filter(pk=organization.pk).update(timezone="America/Vancouver")
    assert anonymous_client.get(url).status_code == 200
    assert feed_holder_kept(cache.get(feed_holder_key(therapist_feed[1])))[0].timezone == "America/Vancouver"
