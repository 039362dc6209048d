"""A calendar's poll of an unchanged feed is answered 304 from a cached validator: no visits read, nothing rendered."""
from __future__ import annotations

import datetime as dt
import os

import pytest
from django.test import override_settings
from django.utils import timezone

from api.feeds import views as feed_views
from dispatch import models as m
from dispatch.services.booking import visit_book
from tests import factories as f
from tests.feeds.conftest import local_at, scheduled_visit


def _url(token: str, kind: str = "therapists") -> str:
    return f"/feeds/{kind}/{token}.ics"


def test_an_unchanged_feed_answers_304_without_a_query_or_rendering(
    anonymous_client, therapist, therapist_feed, django_assert_max_num_queries, monkeypatch
):
    for hour in ("09:00", "11:00", "14:00"):
        scheduled_visit(therapist=therapist, start=local_at(1, hour))
    first = anonymous_client.get(_url(therapist_feed[1]))
    assert first.status_code == 200
    refused = []
    monkeypatch.setattr(feed_views, "calendar_build", lambda **kw: refused.append(kw))
    monkeypatch.setattr(feed_views, "feed_last_modified", lambda **kw: refused.append(kw))
    # No query: the token's holder and the validator are in the cache, and a poll opens no transaction.
    with django_assert_max_num_queries(0):
        again = anonymous_client.get(_url(therapist_feed[1]), HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304
    assert again["ETag"] == first["ETag"] and again["Last-Modified"] == first["Last-Modified"]
    assert again["Cache-Control"] == first["Cache-Control"]
    assert refused == []


def test_if_modified_since_alone_is_answered_from_the_validator_too(
    anonymous_client, therapist, facility, facility_feed, django_assert_max_num_queries
):
    patient = f.PatientFactory(organization=facility.organization, facility=facility)
    scheduled_visit(therapist=therapist, start=local_at(1), patient=patient, facility=facility)
    first = anonymous_client.get(_url(facility_feed[1], "facilities"))
    with django_assert_max_num_queries(0):
        again = anonymous_client.get(_url(facility_feed[1], "facilities"), HTTP_IF_MODIFIED_SINCE=first["Last-Modified"])
    assert again.status_code == 304


def test_a_check_in_is_seen_on_the_next_poll(anonymous_client, therapist, therapist_client, therapist_feed):
    visit = scheduled_visit(therapist=therapist, start=timezone.now() + dt.timedelta(minutes=30))
    first = anonymous_client.get(_url(therapist_feed[1]))
    assert b"STATUS:TENTATIVE" in first.content
    response = therapist_client.post(f"/api/v1/visits/{visit.pk}/check-in", {}, format="json")
    assert response.status_code == 200, response.content
    again = anonymous_client.get(_url(therapist_feed[1]), HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 200
    assert b"STATUS:CONFIRMED" in again.content and again["ETag"] != first["ETag"]


def test_a_visit_moved_to_another_therapist_leaves_the_first_ones_feed_at_once(
    anonymous_client, organization, coordinator, therapist, therapist_feed
):
    visit = f.VisitFactory(organization=organization, windows=[("08:00", "16:00")])
    visit_book(visit=visit, therapist=therapist, planned_start=f.local(visit.date, "09:00"), by=coordinator)
    first = anonymous_client.get(_url(therapist_feed[1]))
    assert f"visit-{visit.pk}@".encode() in first.content
    other = f.TherapistFactory(organization=organization)
    visit_book(visit=m.Visit.objects.get(pk=visit.pk), therapist=other, planned_start=f.local(visit.date, "09:00"),
               by=coordinator)
    again = anonymous_client.get(_url(therapist_feed[1]), HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 200
    assert f"visit-{visit.pk}@".encode() not in again.content


def test_a_change_to_another_therapists_visit_keeps_this_feeds_304(
    anonymous_client, organization, therapist, therapist_feed, monkeypatch
):
    scheduled_visit(therapist=therapist, start=local_at(1))
    elsewhere = scheduled_visit(therapist=f.TherapistFactory(organization=organization), start=local_at(1))
    first = anonymous_client.get(_url(therapist_feed[1]))
    elsewhere.instructions = "Bring the bolster"
    elsewhere.save()
    monkeypatch.setattr(feed_views, "calendar_build", lambda **kw: pytest.fail("rendered"))
    assert anonymous_client.get(_url(therapist_feed[1]), HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 304


def test_a_renamed_patient_moves_the_validator_for_if_none_match(anonymous_client, therapist, therapist_feed):
    visit = scheduled_visit(therapist=therapist, start=local_at(1))
    first = anonymous_client.get(_url(therapist_feed[1]))
    visit.patient.first_name, visit.patient.last_name = "Jana", "Quist"
    visit.patient.save()
    again = anonymous_client.get(_url(therapist_feed[1]), HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 200 and "— J.Q." in again.content.decode()


@pytest.mark.skipif(not os.environ.get("REDIS_TEST_URL"), reason="set REDIS_TEST_URL to a Redis database to use")
def test_on_redis_an_unchanged_feeds_304_is_one_cache_round_trip_and_no_query(
    anonymous_client, therapist, therapist_feed, django_assert_max_num_queries, monkeypatch
):
    from redis.connection import Connection

    redis_cache = {"BACKEND": "config.cache.SharedClientRedisCache", "LOCATION": os.environ["REDIS_TEST_URL"],
                   "KEY_PREFIX": "feed-304-test"}  # the backend production runs
    with override_settings(CACHES={"default": redis_cache}):
        scheduled_visit(therapist=therapist, start=local_at(1, "09:00"))
        first = anonymous_client.get(_url(therapist_feed[1]))
        sent = []
        send = Connection.send_packed_command
        # Counted as they leave for Redis (a pipeline is sent as one): the throttle's INCR and EXPIRE with the
        # cached holder, the feed's versions, the access versions and the validator, since this process has seen
        # whose feed the secret opens. Before, the throttle went through cache.incr (EXISTS, then INCR), the holder
        # was a query, and the versions were a round trip of their own.
        monkeypatch.setattr(Connection, "send_packed_command", lambda self, *a, **kw: sent.append(a) or send(self, *a, **kw))
        with django_assert_max_num_queries(0):
            again = anonymous_client.get(_url(therapist_feed[1]), HTTP_IF_NONE_MATCH=first["ETag"])
        assert again.status_code == 304 and again["ETag"] == first["ETag"]
        assert len(sent) == 1

        # A process that has not seen the secret yet (another worker, a restart) takes the two round trips.
        monkeypatch.setattr(feed_views, "_OWNERS", {})
        sent.clear()
        with django_assert_max_num_queries(0):
            fresh = anonymous_client.get(_url(therapist_feed[1]), HTTP_IF_NONE_MATCH=first["ETag"])
        assert fresh.status_code == 304 and len(sent) == 2


def test_a_feed_known_to_the_process_still_sees_a_change_and_a_revocation(
    anonymous_client, therapist, therapist_feed
):
    """What the throttle fetched with its counter is the feed's state of that moment: a change or a revoked secret
    is seen on the next poll, on the short path as on the long one."""
    from dispatch.services.feed_tokens import feed_token_revoke

    visit = scheduled_visit(therapist=therapist, start=local_at(1, "09:00"))
    first = anonymous_client.get(_url(therapist_feed[1]))
    assert anonymous_client.get(_url(therapist_feed[1]), HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 304
    visit.planned_start = local_at(1, "11:00")
    visit.planned_end = visit.planned_busy_until = visit.planned_start + dt.timedelta(minutes=30)
    visit.save()
    moved = anonymous_client.get(_url(therapist_feed[1]), HTTP_IF_NONE_MATCH=first["ETag"])
    assert moved.status_code == 200 and moved["ETag"] != first["ETag"]
    feed_token_revoke(therapist=therapist)
    assert anonymous_client.get(_url(therapist_feed[1]), HTTP_IF_NONE_MATCH=moved["ETag"]).status_code == 404
