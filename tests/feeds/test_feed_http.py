from __future__ import annotations

import logging

import pytest
from django.core.cache import cache
from django.test import Client

from api.feeds.views import FeedRateThrottle
from config.logging import RedactFeedTokens
from dispatch.services.feed_tokens import feed_token_revoke, feed_token_rotate
from tests import factories as f
from tests.feeds.conftest import backdate_everything, local_at, parse_both, scheduled_visit


def _url(token: str, kind: str = "therapists") -> str:
    return f"/feeds/{kind}/{token}.ics"


@pytest.fixture(autouse=True)
def _fresh_throttle_counts():
    cache.clear()


def test_feed_answers_with_calendar_headers(anonymous_client, therapist, therapist_feed):
    scheduled_visit(therapist=therapist, start=local_at(1))
    response = anonymous_client.get(_url(therapist_feed[1]), HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    assert response["Cache-Control"] == "private, max-age=300"
    assert response["Content-Disposition"].startswith('inline; filename="rounds-')
    assert response["ETag"].startswith('"') and len(response["ETag"]) == 66
    assert response["Last-Modified"].endswith("GMT")


def test_same_data_gives_the_same_body_and_etag(anonymous_client, therapist, therapist_feed):
    scheduled_visit(therapist=therapist, start=local_at(1))
    first, second = anonymous_client.get(_url(therapist_feed[1])), anonymous_client.get(_url(therapist_feed[1]))
    assert first.content == second.content
    assert first["ETag"] == second["ETag"]


def test_conditional_get_answers_304(anonymous_client, therapist, therapist_feed):
    visit = scheduled_visit(therapist=therapist, start=local_at(1))
    first = anonymous_client.get(_url(therapist_feed[1]))
    by_etag = anonymous_client.get(_url(therapist_feed[1]), HTTP_IF_NONE_MATCH=first["ETag"])
    by_date = anonymous_client.get(_url(therapist_feed[1]), HTTP_IF_MODIFIED_SINCE=first["Last-Modified"])
    assert (by_etag.status_code, by_date.status_code) == (304, 304)
    assert by_etag.content == b""

    visit.location_text = "Changed"
    visit.save()
    changed = anonymous_client.get(_url(therapist_feed[1]), HTTP_IF_NONE_MATCH=first["ETag"])
    assert changed.status_code == 200
    assert changed["ETag"] != first["ETag"]


def test_a_visit_moved_to_another_therapist_moves_last_modified(anonymous_client, therapist, therapist_feed):
    """The visit leaves this feed without touching what stays in it; its history still dates the change."""
    from tests import factories as f

    visit = scheduled_visit(therapist=therapist, start=local_at(1))
    backdate_everything(hours=48)
    first = anonymous_client.get(_url(therapist_feed[1]))
    visit.refresh_from_db()
    visit.therapist = f.TherapistFactory(organization=therapist.organization)
    visit.save()
    again = anonymous_client.get(_url(therapist_feed[1]), HTTP_IF_MODIFIED_SINCE=first["Last-Modified"])
    assert again.status_code == 200
    assert parse_both(again.content)[0].walk("VEVENT") == []


def test_unknown_revoked_and_rotated_tokens(anonymous_client, therapist):
    assert anonymous_client.get(_url("not-a-token")).status_code == 404
    _, old = feed_token_rotate(therapist=therapist)
    assert anonymous_client.get(_url(old)).status_code == 200
    _, new = feed_token_rotate(therapist=therapist)
    assert anonymous_client.get(_url(old)).status_code == 404
    assert anonymous_client.get(_url(new)).status_code == 200
    feed_token_revoke(therapist=therapist)
    assert anonymous_client.get(_url(new)).status_code == 404


def test_a_therapist_token_does_not_open_a_facility_feed(anonymous_client, therapist_feed, facility_feed):
    assert anonymous_client.get(_url(therapist_feed[1], kind="facilities")).status_code == 404
    assert anonymous_client.get(_url(facility_feed[1], kind="therapists")).status_code == 404
    assert anonymous_client.get(_url(facility_feed[1], kind="facilities")).status_code == 200


def test_feed_ignores_session_and_token_auth(therapist, therapist_feed):
    """Only the URL's secret counts: a bad token header is no 401, and a signed-in session (even the therapist's
    own) neither changes the calendar nor opens a URL whose secret is wrong."""
    visit = scheduled_visit(therapist=therapist, start=local_at(1))
    anonymous = Client().get(_url(therapist_feed[1]))
    assert anonymous.status_code == 200 and f"visit-{visit.pk}@".encode() in anonymous.content
    client = Client(HTTP_AUTHORIZATION="Token garbage")
    assert client.get(_url(therapist_feed[1])).content == anonymous.content
    for user in (therapist.user, f.UserFactory()):
        session = Client()
        session.force_login(user)
        assert session.get(_url(therapist_feed[1])).content == anonymous.content
        assert session.get(_url("not-the-secret")).status_code == 404


def test_throttled_per_token(anonymous_client, monkeypatch, therapist_feed, facility_feed):
    monkeypatch.setitem(FeedRateThrottle.THROTTLE_RATES, "feed", "2/min")
    codes = [anonymous_client.get(_url(therapist_feed[1])).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    assert anonymous_client.get(_url(facility_feed[1], kind="facilities")).status_code == 200


def test_throttle_rate_comes_from_settings_scope_feed():
    assert FeedRateThrottle.scope == "feed"
    assert "feed" in FeedRateThrottle.THROTTLE_RATES


def test_both_parsers_accept_an_empty_feed(anonymous_client, therapist_feed):
    cal, vcal = parse_both(anonymous_client.get(_url(therapist_feed[1])).content)
    assert cal.walk("VEVENT") == []
    assert vcal.vtimezone.tzid.value == "America/Toronto"


def test_every_handler_that_writes_request_lines_redacts_feed_tokens():
    """runserver's access log ("GET /feeds/therapists/<token>.ics") has its own logger and handler."""
    for name in ("django.server", "django.request"):
        logger = logging.getLogger(name)
        while logger is not None:
            for handler in logger.handlers:
                if type(handler).__module__.startswith("_pytest"):
                    continue
                assert any(isinstance(x, RedactFeedTokens) for x in handler.filters), (name, handler)
            logger = logger.parent if logger.propagate else None
