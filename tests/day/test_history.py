from __future__ import annotations

from dispatch.services.booking import visit_book
from tests import factories as f


def test_coordinator_reads_who_changed_a_visit_and_how(therapist, coordinator, coordinator_client):
    visit = f.VisitFactory(organization=therapist.organization)
    visit_book(visit=visit, therapist=therapist, planned_start=f.local(visit.date, "09:00"))
    coordinator_client.post(f"/api/v1/visits/{visit.pk}/cancel", {"reason": "Patient admitted"}, format="json")

    response = coordinator_client.get(f"/api/v1/visits/{visit.pk}/history")

    assert response.status_code == 200
    latest = response.data[0]
    assert latest["by"] == coordinator.username
    assert latest["type"] == "changed"
    assert {"field": "status", "old": "scheduled", "new": "cancelled"} in latest["changes"]
    assert response.data[-1]["type"] == "created"


def test_coordinator_reads_the_history_of_a_patients_intake(organization, coordinator_client):
    patient = f.PatientFactory(organization=organization)
    patient.diagnosis = "Pancreatic cancer"
    patient.save()

    response = coordinator_client.get(f"/api/v1/patients/{patient.pk}/history")

    assert response.status_code == 200
    assert response.data[0]["changes"] == [
        {"field": "diagnosis", "old": "Metastatic breast cancer", "new": "Pancreatic cancer"}
    ]


def test_therapists_may_not_read_history(therapist, therapist_client):
    visit = f.VisitFactory(organization=therapist.organization)

    assert therapist_client.get(f"/api/v1/visits/{visit.pk}/history").status_code == 403


def test_history_of_another_organisations_visit_is_not_found(coordinator_client):
    visit = f.VisitFactory()

    assert coordinator_client.get(f"/api/v1/visits/{visit.pk}/history").status_code == 404
