from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from dispatch import models as m
from tests import factories as f
from tests.conftest import _client_for
from tests.feeds.conftest import events_by_uid, local_at, parse_both, scheduled_visit


def _feed_path(url: str) -> str:
    return urlsplit(url).path


def test_my_feed_shows_the_url_once_then_only_that_one_is_active(settings, therapist_client, anonymous_client):
    settings.ROUNDS_PUBLIC_URL = "https://rounds.example.org"
    first = therapist_client.get("/api/v1/me/feed")
    assert first.status_code == 200
    assert first.data["url"].startswith("https://rounds.example.org/feeds/therapists/")
    assert first.data["webcal_url"] == first.data["url"].replace("https://", "webcal://")
    assert first.data["created_at"]
    assert anonymous_client.get(_feed_path(first.data["url"])).status_code == 200

    again = therapist_client.get("/api/v1/me/feed")
    assert again.data == {"active": True, "created_at": first.data["created_at"]}

    rotated = therapist_client.post("/api/v1/me/feed/rotate")
    assert rotated.status_code == 201
    assert anonymous_client.get(_feed_path(first.data["url"])).status_code == 404
    assert anonymous_client.get(_feed_path(rotated.data["url"])).status_code == 200


def test_facility_staff_get_their_facilitys_feed(facility_staff_client, facility, facility_staff):
    response = facility_staff_client.get("/api/v1/me/feed")
    assert "/feeds/facilities/" in response.data["url"]
    feed_token = m.FeedToken.objects.get(revoked_at__isnull=True)
    assert (feed_token.facility, feed_token.user) == (facility, facility_staff)


def test_coordinators_have_no_feed_of_their_own(coordinator_client, anonymous_client):
    assert coordinator_client.get("/api/v1/me/feed").status_code == 403
    assert anonymous_client.get("/api/v1/me/feed").status_code == 401


@pytest.mark.parametrize("kind", ["therapists", "facilities"])
def test_coordinator_rotates_and_revokes_feeds_in_their_org(
    kind, coordinator_client, therapist, facility, anonymous_client
):
    owner = therapist if kind == "therapists" else facility
    rotated = coordinator_client.post(f"/api/v1/{kind}/{owner.pk}/feed/rotate")
    assert rotated.status_code == 201
    assert anonymous_client.get(_feed_path(rotated.data["url"])).status_code == 200
    assert coordinator_client.get(f"/api/v1/{kind}/{owner.pk}/feed").data["active"] is True

    assert coordinator_client.delete(f"/api/v1/{kind}/{owner.pk}/feed").status_code == 204
    assert anonymous_client.get(_feed_path(rotated.data["url"])).status_code == 404
    after = coordinator_client.get(f"/api/v1/{kind}/{owner.pk}/feed").data
    assert (after["active"], after["created_at"]) == (False, None)


@pytest.mark.parametrize("kind", ["therapists", "facilities"])
def test_other_orgs_feeds_are_404_and_other_roles_403(
    kind, coordinator_client, therapist_client, facility_staff_client
):
    stranger = f.TherapistFactory() if kind == "therapists" else f.FacilityFactory()
    assert coordinator_client.post(f"/api/v1/{kind}/{stranger.pk}/feed/rotate").status_code == 404
    assert coordinator_client.delete(f"/api/v1/{kind}/{stranger.pk}/feed").status_code == 404
    for client in (therapist_client, facility_staff_client):
        assert client.post(f"/api/v1/{kind}/{stranger.pk}/feed/rotate").status_code == 403
        assert client.delete(f"/api/v1/{kind}/{stranger.pk}/feed").status_code == 403


def test_visit_ics_for_those_who_may_see_the_visit(
    therapist, facility, facility_staff, coordinator_client, therapist_client
):
    patient = f.PatientFactory(organization=facility.organization, facility=facility)
    m.Precaution.objects.create(patient=patient, kind="wound", body_site="heel", note="Dressing")
    visit = scheduled_visit(therapist=therapist, start=local_at(1), patient=patient)
    uid = f"visit-{visit.pk}@{facility.organization.slug}.rounds"
    path = f"/api/v1/visits/{visit.pk}.ics"

    for client in (coordinator_client, therapist_client):
        response = client.get(path)
        assert response.status_code == 200
        assert response["Content-Type"] == "text/calendar; charset=utf-8"
        event = events_by_uid(parse_both(response.content)[0])[uid]
        assert str(event["URL"]).endswith(f"/app/?date={visit.date.isoformat()}")
        assert b"heel" not in response.content and b"Dressing" not in response.content

    staff = _client_for(facility_staff).get(path)
    event = events_by_uid(parse_both(staff.content)[0])[uid]
    assert str(event["URL"]).endswith("/facility/")
    assert b"heel" not in staff.content and b"Dressing" not in staff.content


def test_visit_ics_is_404_for_a_visit_that_is_not_yours(organization, therapist, coordinator_client):
    visit = scheduled_visit(therapist=therapist, start=local_at(1))
    other_therapist = f.TherapistFactory(organization=organization)
    other_staff = f.FacilityStaffFactory(organization=organization)
    outsider = f.UserFactory()
    path = f"/api/v1/visits/{visit.pk}.ics"
    for user in (other_therapist.user, other_staff, outsider):
        assert _client_for(user).get(path).status_code == 404
    requested = f.VisitFactory(organization=organization)
    assert coordinator_client.get(f"/api/v1/visits/{requested.pk}.ics").status_code == 409


def _staff_url(user) -> str:
    response = _client_for(user).get("/api/v1/me/feed")
    assert response.status_code == 200
    return _feed_path(response.data["url"])


def test_each_staff_member_has_their_own_url_to_the_facility_feed(facility, anonymous_client):
    ann, bob = (f.FacilityStaffFactory(organization=facility.organization, facility=facility) for _ in range(2))
    ann_url, bob_url = _staff_url(ann), _staff_url(bob)
    assert ann_url != bob_url
    assert anonymous_client.get(ann_url).content == anonymous_client.get(bob_url).content

    rotated = _client_for(ann).post("/api/v1/me/feed/rotate")
    assert anonymous_client.get(ann_url).status_code == 404
    assert anonymous_client.get(_feed_path(rotated.data["url"])).status_code == 200
    assert anonymous_client.get(bob_url).status_code == 200  # a colleague's rotation breaks nobody's calendar


def test_a_staff_members_url_stops_when_they_leave_or_move(organization, facility, anonymous_client):
    leaver, mover, stayer = (f.FacilityStaffFactory(organization=organization, facility=facility) for _ in range(3))
    urls = {user.pk: _staff_url(user) for user in (leaver, mover, stayer)}
    leaver.is_active = False
    leaver.save()
    mover.facility = f.FacilityFactory(organization=organization)
    mover.save()
    assert anonymous_client.get(urls[leaver.pk]).status_code == 404
    assert anonymous_client.get(urls[mover.pk]).status_code == 404
    assert anonymous_client.get(urls[stayer.pk]).status_code == 200
    assert "/feeds/facilities/" in _staff_url(mover)  # the new facility's feed, a new URL


def test_coordinator_sees_staff_urls_counted_and_revokes_them_all(facility, coordinator_client, anonymous_client):
    staff_urls = [
        _staff_url(f.FacilityStaffFactory(organization=facility.organization, facility=facility)) for _ in range(2)
    ]
    shared = coordinator_client.post(f"/api/v1/facilities/{facility.pk}/feed/rotate").data
    assert all(anonymous_client.get(url).status_code == 200 for url in staff_urls)  # rotating the shared URL
    state = coordinator_client.get(f"/api/v1/facilities/{facility.pk}/feed").data
    assert (state["active"], state["staff_feeds_active"]) == (True, 2)

    assert coordinator_client.delete(f"/api/v1/facilities/{facility.pk}/feed").status_code == 204
    for url in [*staff_urls, _feed_path(shared["url"])]:
        assert anonymous_client.get(url).status_code == 404
    state = coordinator_client.get(f"/api/v1/facilities/{facility.pk}/feed").data
    assert (state["active"], state["staff_feeds_active"]) == (False, 0)
