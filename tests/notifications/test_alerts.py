"""Coordinators' alerts at simulated minutes: the minute job is the real management command."""
from __future__ import annotations

from django.core import mail
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from dispatch import models as m
from tests import factories as f
from tests.conftest import _client_for
from tests.notifications.conftest import booked, in_app, travel


def _tick(minute: str) -> None:
    with travel(minute):
        call_command("notifications_run", "--once")


def _alerts(user, event: str) -> list[int]:
    return [i["visit"] for n in in_app(user) for i in n.items if i["event"] == event]


def _check_in(therapist, visit, minute: str, **where) -> None:
    with travel(minute):
        response = _client_for(therapist.user).post(f"/api/v1/visits/{visit.pk}/check-in", where, format="json")
    assert response.status_code == 200, response.data


def test_a_late_check_in_raises_an_alert_at_the_tenth_minute_after_the_planned_start(ward):
    _check_in(ward.t2, ward.t2_visit, "10:03")  # a little late, but in time: no alert

    _tick("10:49")
    assert _alerts(ward.coordinator, "visit.late") == []
    _tick("10:50")
    assert _alerts(ward.coordinator, "visit.late") == [ward.home.pk]
    (alert,) = in_app(ward.coordinator)
    assert alert.urgent and alert.items[0]["late_min"] == 10
    assert ward.t1.display_name in alert.subject
    assert [e.subject for e in mail.outbox if ward.coordinator.email in e.to] == [alert.subject]
    _tick("10:51")
    _check_in(ward.t1, ward.home, "10:52")
    _tick("10:55")
    assert _alerts(ward.coordinator, "visit.late") == [ward.home.pk]  # told once
    assert in_app(ward.t1.user) == [] and in_app(ward.asker) == []


def test_a_reported_delay_moves_the_minute_a_visit_counts_as_late(ward):
    _check_in(ward.t2, ward.t2_visit, "10:00")
    with travel("10:30"):
        _client_for(ward.t1.user).post(f"/api/v1/visits/{ward.home.pk}/late", {"minutes": 20}, format="json")
    _tick("10:50")
    assert _alerts(ward.coordinator, "visit.late") == []
    _tick("11:10")
    assert _alerts(ward.coordinator, "visit.late") == [ward.home.pk]


def test_a_reported_delay_that_pushes_a_later_visit_out_of_its_window_is_an_at_risk_alert_at_once(organization):
    coordinator = f.UserFactory(organization=organization)
    therapist = f.TherapistFactory(organization=organization)
    with travel("07:00"):
        street = {"lat": 43.66, "lon": -79.40}  # one street: no travel between the two
        first = booked(therapist=therapist, patient=f.PatientFactory(organization=organization, **street), hhmm="10:40")
        tight = booked(
            therapist=therapist, patient=f.PatientFactory(organization=organization, **street), hhmm="11:30",
            windows=(("11:00", "12:30"),),
        )
    m.Notification.objects.all().delete()

    with travel("10:00"):
        response = _client_for(therapist.user).post(f"/api/v1/visits/{first.pk}/late", {"minutes": 90}, format="json")
    assert response.status_code == 200, response.data

    assert _alerts(coordinator, "visit.at_risk") == [tight.pk]  # before the tight visit is even due
    (alert,) = in_app(coordinator)
    assert "outside its window" in alert.body and "expected to start 12:" in alert.body
    _tick("10:01")
    assert _alerts(coordinator, "visit.at_risk") == [tight.pk]


def test_a_session_started_late_puts_the_next_visit_at_risk_on_the_next_minute(organization):
    coordinator = f.UserFactory(organization=organization)
    therapist = f.TherapistFactory(organization=organization)
    with travel("07:00"):
        street = {"lat": 43.66, "lon": -79.40}  # one street: no travel between the two
        first = booked(therapist=therapist, patient=f.PatientFactory(organization=organization, **street), hhmm="10:40")
        tight = booked(
            therapist=therapist, patient=f.PatientFactory(organization=organization, **street), hhmm="11:30",
            windows=(("11:00", "12:10"),),
        )
    _check_in(therapist, first, "10:44")
    _tick("10:45")
    assert _alerts(coordinator, "visit.at_risk") == []

    # The session really began at 11:10 (the check-in was recorded late): the next visit cannot make its window.
    m.Visit.objects.filter(pk=first.pk).update(actual_start=f.local(first.date, "11:10"))
    _tick("11:11")
    assert _alerts(coordinator, "visit.at_risk") == [tight.pk]


def test_a_check_in_far_from_the_visit_tells_the_coordinators(ward):
    _check_in(ward.t1, ward.home, "10:41", lat=ward.home.lat + 0.02, lon=ward.home.lon)
    (alert,) = in_app(ward.coordinator)
    assert alert.items[0]["event"] == "visit.checkin_far"
    assert 2000 < alert.items[0]["distance_m"] < 2400
    assert in_app(ward.t1.user) == []


def test_a_check_in_at_the_door_tells_no_one(ward):
    _check_in(ward.t1, ward.home, "10:41", lat=ward.home.lat, lon=ward.home.lon)
    assert not m.Notification.objects.exists()


def test_a_delay_that_puts_several_visits_at_risk_tells_each_once_to_every_coordinator_in_one_batch(organization):
    coordinators = [f.UserFactory(organization=organization) for _ in range(3)]
    therapist = f.TherapistFactory(organization=organization)
    street = {"lat": 43.66, "lon": -79.40}
    with travel("07:00"):
        first = booked(therapist=therapist, patient=f.PatientFactory(organization=organization, **street), hhmm="10:40")
        tight = [
            booked(therapist=therapist, patient=f.PatientFactory(organization=organization, **street), hhmm=hhmm,
                   windows=(window,))
            for hhmm, window in (("11:30", ("11:00", "12:30")), ("12:30", ("12:00", "13:30")))
        ]
    m.Notification.objects.all().delete()

    with travel("10:00"):
        with CaptureQueriesContext(connection) as queries:
            response = _client_for(therapist.user).post(f"/api/v1/visits/{first.pk}/late", {"minutes": 120},
                                                        format="json")
    assert response.status_code == 200, response.data
    # The two alerts are read, composed and written together (six queries each before, 2026-12-03): what was told
    # already, the coordinators, one INSERT of every message, the webhook subscriptions.
    sql = [q["sql"] for q in queries.captured_queries]
    assert len([q for q in sql if '"dispatch_notification"' in q]) == 2
    assert len([q for q in sql if 'FROM "dispatch_webhooksubscription"' in q]) == 1

    for coordinator in coordinators:
        assert sorted(_alerts(coordinator, "visit.at_risk")) == sorted(v.pk for v in tight)
    _tick("10:01")  # the minute job finds them again and tells no one twice
    for coordinator in coordinators:
        assert sorted(_alerts(coordinator, "visit.at_risk")) == sorted(v.pk for v in tight)
