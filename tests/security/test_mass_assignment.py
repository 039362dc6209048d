"""Fields a role may not set are refused (a 400 naming them, or a 403), never written: organisation, status, therapist."""
from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from dispatch import models as m
from tests import factories as f


def _as(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def other_org(db):
    return f.OrganizationFactory()


def test_a_created_patient_belongs_to_the_creators_organisation_whatever_the_body_says(coordinator, other_org):
    body = {"first_name": "Ada", "last_name": "Moss", "lat": 43.66, "lon": -79.4, "organization": other_org.pk}
    response = _as(coordinator).post("/api/v1/patients", body, format="json")
    assert response.status_code == 400 and set(response.data) == {"organization"}
    del body["organization"]
    response = _as(coordinator).post("/api/v1/patients", body, format="json")
    assert response.status_code == 201
    assert m.Patient.objects.get(pk=response.data["id"]).organization_id == coordinator.organization_id


def test_a_visit_request_cannot_set_status_therapist_or_organisation(facility_staff, organization, other_org):
    patient = f.PatientFactory(organization=organization, facility=facility_staff.facility)
    therapist = f.TherapistFactory(organization=organization)
    day = f.tomorrow()
    body = {
        "patient": patient.pk, "date": str(day), "duration_min": 30,
        "windows": [{"start": f.local(day, "09:00").isoformat(), "end": f.local(day, "11:00").isoformat()}],
        "status": "completed", "therapist": therapist.pk, "organization": other_org.pk,
        "planned_start": f.local(day, "09:00").isoformat(), "pinned": True,
    }
    response = _as(facility_staff).post("/api/v1/visits", body, format="json")
    assert response.status_code == 400
    assert set(response.data) == {"status", "therapist", "organization", "planned_start", "pinned"}
    assert not m.Visit.objects.exists()


def test_a_therapist_cannot_rename_or_deactivate_themselves(therapist):
    response = _as(therapist.user).patch(f"/api/v1/therapists/{therapist.pk}", {"active": False}, format="json")
    assert response.status_code == 403
    therapist.refresh_from_db()
    assert therapist.active is True


def test_a_plan_cannot_be_marked_applied_or_moved_to_another_organisation(coordinator, other_org):
    day = f.tomorrow()
    response = _as(coordinator).post(
        "/api/v1/plans",
        {"date": str(day), "time_limit_s": 0.5, "status": "succeeded", "organization": other_org.pk,
         "applied_at": "2026-01-01T00:00:00Z"},
        format="json",
    )
    assert response.status_code == 400 and set(response.data) == {"status", "organization", "applied_at"}
    assert not m.PlanRun.objects.exists()
    response = _as(coordinator).post("/api/v1/plans", {"date": str(day), "time_limit_s": 0.5}, format="json")
    assert response.status_code == 202
    run = m.PlanRun.objects.get(pk=response.data["id"])
    assert run.organization_id == coordinator.organization_id and run.applied_at is None
