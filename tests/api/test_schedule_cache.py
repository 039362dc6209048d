from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from dispatch.services.booking import visit_book
from tests import factories as f


@pytest.fixture
def booked(organization, coordinator):
    therapist = f.TherapistFactory(organization=organization)
    visit = f.VisitFactory(organization=organization, windows=[("08:00", "16:00")])
    visit_book(visit=visit, therapist=therapist, planned_start=f.local(visit.date, "09:00"), by=coordinator)
    return therapist, visit


def _starts(client, day) -> list[str]:
    body = client.get(f"/api/v1/schedule?date={day}").json()
    return [v["planned_start"] for d in body for v in d["visits"]]


def test_a_repeated_schedule_read_is_served_from_the_cache(coordinator_client, booked):
    _, visit = booked
    _starts(coordinator_client, visit.date)
    with CaptureQueriesContext(connection) as first_again:
        _starts(coordinator_client, visit.date)
    assert len(first_again) <= 3  # the user's session/token and the version; no schedule queries


def test_a_moved_visit_shows_at_once_on_the_next_read(coordinator_client, coordinator, booked, django_capture_on_commit_callbacks):
    therapist, visit = booked
    before = _starts(coordinator_client, visit.date)
    with django_capture_on_commit_callbacks(execute=True):
        visit_book(visit=visit, therapist=therapist, planned_start=f.local(visit.date, "11:00"), by=coordinator)
    after = _starts(coordinator_client, visit.date)
    assert before != after
    assert dt.datetime.fromisoformat(after[0]) == f.local(visit.date, "11:00")


def test_time_off_shows_at_once_on_the_next_read(coordinator_client, booked):
    from dispatch.models import AvailabilityException

    therapist, visit = booked
    body = coordinator_client.get(f"/api/v1/schedule?date={visit.date}").json()
    assert body[0]["shifts"]
    AvailabilityException.objects.create(therapist=therapist, date=visit.date, kind="time_off")
    body = coordinator_client.get(f"/api/v1/schedule?date={visit.date}").json()
    assert body[0]["shifts"] == []


def test_a_check_in_shows_on_the_next_schedule_read(
    coordinator_client, therapist_client, therapist, django_assert_max_num_queries
):
    from django.utils import timezone

    from tests.feeds.conftest import scheduled_visit

    visit = scheduled_visit(therapist=therapist, start=timezone.now() + dt.timedelta(minutes=30))
    url = f"/api/v1/schedule?date={visit.date}"
    assert coordinator_client.get(url).json()[0]["visits"][0]["status"] == "scheduled"
    with django_assert_max_num_queries(3):  # the version, the request's savepoint and release; no schedule query
        coordinator_client.get(url)
    assert therapist_client.post(f"/api/v1/visits/{visit.pk}/check-in", {}, format="json").status_code == 200
    assert coordinator_client.get(url).json()[0]["visits"][0]["status"] == "in_progress"

