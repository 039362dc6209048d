"""One patient cannot have two sessions at once, whoever gives them: booking by hand refuses the second (409)."""
from __future__ import annotations

import pytest

from dispatch.models import Visit, VisitStatus
from tests import factories as f
from tests.clients import signed_in


@pytest.fixture
def two_of_one_patient(organization):
    patient = f.PatientFactory(organization=organization)
    first, second = (f.VisitFactory(organization=organization, patient=patient, duration_min=60,
                                    windows=[("08:00", "16:00")]) for _ in range(2))
    return patient, first, second


def _assign(client, visit, therapist, hhmm):
    return client.post(f"/api/v1/visits/{visit.pk}/assign",
                       {"therapist": therapist.pk, "planned_start": f.local(visit.date, hhmm).isoformat()},
                       format="json")


def test_a_patients_second_visit_at_the_same_time_with_another_therapist_is_refused(
    organization, coordinator, two_of_one_patient
):
    _, first, second = two_of_one_patient
    farah, ben = (f.TherapistFactory(organization=organization) for _ in range(2))
    client = signed_in(coordinator)
    assert _assign(client, first, farah, "10:00").status_code == 200
    refused = _assign(client, second, ben, "10:30")
    assert refused.status_code == 409, refused.content
    assert any(f"already booked then: visit {first.pk} with therapist {farah.pk} from 10:00 to 11:00" in r
               for r in refused.json()["extra"]["reasons"])
    assert Visit.objects.get(pk=second.pk).status == VisitStatus.REQUESTED


def test_the_patients_next_session_right_after_the_first_is_booked(organization, coordinator, two_of_one_patient):
    _, first, second = two_of_one_patient
    farah, ben = (f.TherapistFactory(organization=organization) for _ in range(2))
    client = signed_in(coordinator)
    assert _assign(client, first, farah, "10:00").status_code == 200
    booked = _assign(client, second, ben, "11:00")  # the first session ends at 11:00
    assert booked.status_code == 200, booked.content


def test_a_patients_cancelled_visit_does_not_hold_the_time(organization, coordinator, two_of_one_patient):
    _, first, second = two_of_one_patient
    farah, ben = (f.TherapistFactory(organization=organization) for _ in range(2))
    client = signed_in(coordinator)
    assert _assign(client, first, farah, "10:00").status_code == 200
    assert client.post(f"/api/v1/visits/{first.pk}/cancel", {"reason": "Family asked"}, format="json"
                       ).status_code == 200
    assert _assign(client, second, ben, "10:00").status_code == 200
