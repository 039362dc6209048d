from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection
from rest_framework.test import APIClient

from dispatch.models import IdempotencyKey, Visit
from tests import factories as f

pytestmark = pytest.mark.urls("tests.day.idempotency_urls")


@pytest.fixture
def patient(facility_staff):
    return f.PatientFactory(organization=facility_staff.organization, facility=facility_staff.facility)


def test_the_same_key_and_body_replay_the_first_response_without_a_second_visit(facility_staff_client, patient):
    body = {"patient": patient.pk, "duration_min": 30}

    first = facility_staff_client.post("/visit-requests", body, format="json", HTTP_IDEMPOTENCY_KEY="req-1")
    again = facility_staff_client.post("/visit-requests", body, format="json", HTTP_IDEMPOTENCY_KEY="req-1")

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert Visit.objects.filter(patient=patient).count() == 1


def test_the_same_key_with_another_body_is_refused_with_a_clear_message(facility_staff_client, patient):
    facility_staff_client.post(
        "/visit-requests", {"patient": patient.pk, "duration_min": 30}, format="json", HTTP_IDEMPOTENCY_KEY="req-2"
    )

    response = facility_staff_client.post(
        "/visit-requests", {"patient": patient.pk, "duration_min": 60}, format="json", HTTP_IDEMPOTENCY_KEY="req-2"
    )

    assert response.status_code == 422
    assert response.json()["detail"] == "Idempotency-Key 'req-2' was already used with a different request body."
    assert Visit.objects.filter(patient=patient).count() == 1


def test_key_order_in_the_body_does_not_matter(facility_staff_client, patient):
    facility_staff_client.post(
        "/visit-requests", {"patient": patient.pk, "duration_min": 30}, format="json", HTTP_IDEMPOTENCY_KEY="k"
    )

    again = facility_staff_client.post(
        "/visit-requests", {"duration_min": 30, "patient": patient.pk}, format="json", HTTP_IDEMPOTENCY_KEY="k"
    )

    assert again.status_code == 201
    assert Visit.objects.filter(patient=patient).count() == 1


def test_keys_belong_to_one_user(facility_staff_client, facility_staff, patient):
    other = f.FacilityStaffFactory(organization=facility_staff.organization, facility=facility_staff.facility)
    other_client = APIClient()
    other_client.force_authenticate(other)
    body = {"patient": patient.pk, "duration_min": 30}

    facility_staff_client.post("/visit-requests", body, format="json", HTTP_IDEMPOTENCY_KEY="shared")
    other_client.post("/visit-requests", body, format="json", HTTP_IDEMPOTENCY_KEY="shared")

    assert Visit.objects.filter(patient=patient).count() == 2


def test_without_a_key_every_request_creates(facility_staff_client, patient):
    body = {"patient": patient.pk, "duration_min": 30}

    facility_staff_client.post("/visit-requests", body, format="json")
    facility_staff_client.post("/visit-requests", body, format="json")

    assert Visit.objects.filter(patient=patient).count() == 2
    assert not IdempotencyKey.objects.exists()


def test_a_refused_request_is_not_remembered(facility_staff_client, patient):
    bad = facility_staff_client.post("/visit-requests", {"patient": patient.pk}, format="json", HTTP_IDEMPOTENCY_KEY="x")
    good = facility_staff_client.post(
        "/visit-requests", {"patient": patient.pk, "duration_min": 30}, format="json", HTTP_IDEMPOTENCY_KEY="x"
    )

    assert bad.status_code == 400
    assert good.status_code == 201


def test_an_overlong_key_is_refused(facility_staff_client, patient):
    response = facility_staff_client.post(
        "/visit-requests", {"patient": patient.pk, "duration_min": 30}, format="json", HTTP_IDEMPOTENCY_KEY="k" * 201
    )

    assert response.status_code == 400
    assert "Idempotency-Key must be 1 to 200" in response.json()["detail"]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicates_create_one_visit_and_all_get_the_same_answer():
    staff = f.FacilityStaffFactory()
    patient = f.PatientFactory(organization=staff.organization, facility=staff.facility)
    body = {"patient": patient.pk, "duration_min": 30}

    def send(_: int):
        client = APIClient()
        client.force_authenticate(staff)
        try:
            response = client.post("/visit-requests", body, format="json", HTTP_IDEMPOTENCY_KEY="burst")
            return response.status_code, response.json()
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=12) as pool:
        answers = list(pool.map(send, range(24)))

    assert {status for status, _ in answers} == {201}
    assert len({body["id"] for _, body in answers}) == 1
    assert Visit.objects.filter(patient=patient).count() == 1
