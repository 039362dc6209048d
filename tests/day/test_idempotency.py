"""Idempotency-Key on the real create endpoints: a retry gets the first answer back, never a second object."""
from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from dispatch.models import IdempotencyKey, PlanRun, Visit, VisitSeries
from tests import factories as f


@pytest.fixture
def patient(facility_staff):
    return f.PatientFactory(organization=facility_staff.organization, facility=facility_staff.facility)


def _visit_body(patient, duration_min=30):
    day = f.tomorrow()
    window = {"start": f.local(day, "09:00").isoformat(), "end": f.local(day, "12:00").isoformat()}
    return {"patient": patient.pk, "date": str(day), "duration_min": duration_min, "windows": [window]}


def _post(client, body, key=None, url="/api/v1/visits"):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
    return client.post(url, body, format="json", **headers)


def test_the_same_key_and_body_replay_the_first_response_without_a_second_visit(facility_staff_client, patient):
    first = _post(facility_staff_client, _visit_body(patient), "req-1")
    again = _post(facility_staff_client, _visit_body(patient), "req-1")

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first.headers
    assert Visit.objects.filter(patient=patient).count() == 1


def test_the_same_key_with_another_body_is_refused_with_422(facility_staff_client, patient):
    _post(facility_staff_client, _visit_body(patient), "req-2")

    response = _post(facility_staff_client, _visit_body(patient, duration_min=60), "req-2")

    assert response.status_code == 422
    assert response.json()["detail"] == "Idempotency-Key 'req-2' was already used with a different request body."
    assert Visit.objects.filter(patient=patient).count() == 1


def test_key_order_in_the_body_does_not_matter(facility_staff_client, patient):
    body = _visit_body(patient)
    _post(facility_staff_client, body, "k")

    again = _post(facility_staff_client, dict(reversed(list(body.items()))), "k")

    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert Visit.objects.filter(patient=patient).count() == 1


def test_keys_belong_to_one_user(facility_staff_client, facility_staff, patient):
    other = f.FacilityStaffFactory(organization=facility_staff.organization, facility=facility_staff.facility)
    other_client = APIClient()
    other_client.force_authenticate(other)

    _post(facility_staff_client, _visit_body(patient), "shared")
    _post(other_client, _visit_body(patient), "shared")

    assert Visit.objects.filter(patient=patient).count() == 2


def test_without_a_key_every_request_creates(facility_staff_client, patient):
    _post(facility_staff_client, _visit_body(patient))
    _post(facility_staff_client, _visit_body(patient))

    assert Visit.objects.filter(patient=patient).count() == 2
    assert not IdempotencyKey.objects.exists()


def test_a_refused_request_is_not_remembered(facility_staff_client, patient):
    bad = _post(facility_staff_client, {"patient": patient.pk}, "x")
    good = _post(facility_staff_client, _visit_body(patient), "x")

    assert bad.status_code == 400
    assert good.status_code == 201 and "Idempotent-Replayed" not in good.headers


def test_an_overlong_key_is_refused(facility_staff_client, patient):
    response = _post(facility_staff_client, _visit_body(patient), "k" * 201)

    assert response.status_code == 400
    assert "Idempotency-Key must be 1 to 200" in response.json()["detail"]
    assert not Visit.objects.filter(patient=patient).exists()


def test_a_key_expires_after_24_hours_and_then_starts_afresh(facility_staff_client, patient):
    first = _post(facility_staff_client, _visit_body(patient), "daily")
    IdempotencyKey.objects.update(created_at=timezone.now() - dt.timedelta(hours=24, minutes=1))

    again = _post(facility_staff_client, _visit_body(patient, duration_min=45), "daily")

    assert again.status_code == 201 and "Idempotent-Replayed" not in again.headers
    assert again.json()["id"] != first.json()["id"]
    assert IdempotencyKey.objects.count() == 1  # the expired record made room for the new one


def test_the_purge_command_deletes_expired_keys_only(facility_staff_client, patient):
    _post(facility_staff_client, _visit_body(patient), "old")
    _post(facility_staff_client, _visit_body(patient, duration_min=45), "fresh")
    IdempotencyKey.objects.filter(key="old").update(created_at=timezone.now() - dt.timedelta(hours=25))
    out = StringIO()

    call_command("purge_idempotency_keys", stdout=out)

    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["fresh"]
    assert out.getvalue().strip() == "Deleted 1 Idempotency-Key(s) older than 24 h."


def test_a_retried_plan_start_replays_the_first_run_with_its_location(coordinator_client, organization):
    day = f.tomorrow()
    f.TherapistFactory(organization=organization)
    f.VisitFactory(organization=organization, date=day)
    body = {"date": str(day), "time_limit_s": 1}

    first = coordinator_client.post("/api/v1/plans", body, format="json", HTTP_IDEMPOTENCY_KEY="plan-1")
    again = coordinator_client.post("/api/v1/plans", body, format="json", HTTP_IDEMPOTENCY_KEY="plan-1")
    other = coordinator_client.post(
        "/api/v1/plans", {**body, "seed": 3}, format="json", HTTP_IDEMPOTENCY_KEY="plan-1"
    )

    assert first.status_code == again.status_code == 202
    assert again.json()["id"] == first.json()["id"] and again["Location"] == first["Location"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert other.status_code == 422
    assert PlanRun.objects.count() == 1


def test_a_retried_series_creates_it_once(facility_staff_client, patient):
    start = timezone.localdate(timezone=patient.organization.tz) + dt.timedelta(days=7)
    body = {
        "patient": patient.pk, "weekdays": [1], "window_start": "09:00", "window_end": "12:00", "duration_min": 30,
        "starts_on": str(start), "ends_on": str(start + dt.timedelta(weeks=2)),
    }

    first = _post(facility_staff_client, body, "series-1", url="/api/v1/visit-series")
    again = _post(facility_staff_client, body, "series-1", url="/api/v1/visit-series")

    assert first.status_code == again.status_code == 201 and again.json() == first.json()
    assert VisitSeries.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicates_create_one_visit_and_all_get_the_same_answer():
    staff = f.FacilityStaffFactory()
    patient = f.PatientFactory(organization=staff.organization, facility=staff.facility)
    body = _visit_body(patient)

    def send(_: int):
        client = APIClient()
        client.force_authenticate(staff)
        try:
            response = _post(client, body, "burst")
            return response.status_code, response.json()
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=12) as pool:
        answers = list(pool.map(send, range(24)))

    assert {status for status, _ in answers} == {201}
    assert len({body["id"] for _, body in answers}) == 1
    assert Visit.objects.filter(patient=patient).count() == 1
