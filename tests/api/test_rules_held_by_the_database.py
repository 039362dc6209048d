"""Rules validation checks that the database also holds, so two requests at once cannot both pass them."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import IntegrityError, connection, transaction
from rest_framework.test import APIClient

from dispatch.models import User, WeeklyAvailability
from tests import factories as f


@pytest.mark.django_db
def test_a_username_differing_only_by_case_is_refused_by_the_database_too():
    f.UserFactory(username="farah.haddad")
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create(username="Farah.Haddad")  # a bulk write or a script: no clean()


@pytest.mark.postgres
@pytest.mark.django_db
def test_overlapping_weekly_shifts_written_without_validation_are_refused_by_postgresql():
    therapist = f.TherapistFactory(weekdays=False)
    WeeklyAvailability.objects.create(therapist=therapist, weekday=2, start_time="09:00", end_time="13:00")
    WeeklyAvailability.objects.create(therapist=therapist, weekday=2, start_time="13:00", end_time="17:00")  # touches
    WeeklyAvailability.objects.create(therapist=therapist, weekday=3, start_time="09:00", end_time="13:00")
    with pytest.raises(IntegrityError), transaction.atomic():
        WeeklyAvailability.objects.create(therapist=therapist, weekday=2, start_time="12:30", end_time="14:00")


def _at_once(requests: list[tuple[str, dict]], user: User) -> list[int]:
    """Each request from its own client and connection, released together."""
    gate = threading.Barrier(len(requests))

    def send(request: tuple[str, dict]) -> int:
        url, body = request
        client = APIClient()
        client.force_authenticate(user)
        try:
            gate.wait(timeout=30)
            return client.post(url, body, format="json").status_code
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=len(requests)) as pool:
        return list(pool.map(send, requests))


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_overlapping_shifts_sent_at_once_leave_one_and_no_server_error():
    therapist = f.TherapistFactory(weekdays=False)
    coordinator = f.UserFactory(organization=therapist.organization)
    shifts = [("09:00", "13:00"), ("10:00", "14:00"), ("12:00", "16:00"), ("08:30", "09:30")] * 2
    statuses = _at_once([("/api/v1/availability/weekly", {"therapist": therapist.pk, "weekday": 1,
                                                          "start_time": s, "end_time": e}) for s, e in shifts],
                        coordinator)
    assert set(statuses) <= {201, 400, 409}, statuses
    kept = list(WeeklyAvailability.objects.filter(therapist=therapist, weekday=1).order_by("start_time"))
    assert len(kept) == statuses.count(201) >= 1
    for earlier, later in zip(kept, kept[1:]):
        assert earlier.end_time <= later.start_time


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_one_username_in_two_cases_sent_at_once_makes_one_user():
    coordinator = f.UserFactory()
    bodies = [{"username": name, "display_name": "Farah Haddad", "home_address": "1 King St W", "home_lat": 43.65,
               "home_lon": -79.38} for name in ("farah", "Farah", "FARAH", "fArah")]
    statuses = _at_once([("/api/v1/therapists", body) for body in bodies], coordinator)
    assert set(statuses) <= {201, 400, 409}, statuses
    assert statuses.count(201) == 1
    assert User.objects.filter(username__iexact="farah").count() == 1
