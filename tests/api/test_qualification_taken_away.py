"""A skill or credential taken away from a therapist (`PATCH /api/v1/therapists/{id}`), or a credential a facility
newly requires (`PATCH /api/v1/facilities/{id}`), unbooks the visits still to come that now need what their therapist
lacks, with the reason, in the same transaction. Before, they stayed booked (booking and the planner refuse such a
therapist; the simulator's booked_with_skills and booked_with_credentials invariants)."""
from __future__ import annotations

import datetime as dt

import pytest

from dispatch import models as m
from dispatch.models import VisitStatus
from dispatch.services.booking import visit_book
from dispatch.skills import skill_ensure_standard
from tests import factories as f

WEDNESDAY = dt.date(2027, 1, 13)
UNBOOKED = "Unbooked: {name} lacks a skill or credential it needs now; the visit is open to plan again."


@pytest.fixture
def credential(organization):
    return f.CredentialTypeFactory(organization=organization)


@pytest.fixture
def booked(organization, therapist, coordinator, facility, credential):
    """The therapist (oncology, palliative; holding the credential) has yesterday's and tomorrow's oncology visits at
    the facility, and tomorrow's palliative one at a patient's home."""
    skills = skill_ensure_standard()
    therapist.skills.set([skills["oncology"], skills["palliative"]])
    m.TherapistCredential.objects.create(therapist=therapist, credential_type=credential)
    at_facility = f.PatientFactory(organization=organization, facility=facility)
    visits = {}
    for name, day, patient, skill, hhmm in (
        ("yesterday", WEDNESDAY - dt.timedelta(days=1), at_facility, "oncology", "09:00"),
        ("oncology", WEDNESDAY + dt.timedelta(days=1), at_facility, "oncology", "09:00"),
        ("palliative", WEDNESDAY + dt.timedelta(days=1), None, "palliative", "14:00"),
    ):
        visit = f.VisitFactory(organization=organization, date=day, windows=[("08:00", "16:00")],
                               **({"patient": patient} if patient else {}))
        visit.required_skills.set([skills[skill]])
        visits[name] = visit_book(visit=visit, therapist=therapist, planned_start=f.local(day, hhmm), by=coordinator)
    return visits


def _state(visit) -> tuple[str, int | None]:
    visit.refresh_from_db()
    return visit.status, visit.therapist_id


def test_a_skill_taken_away_unbooks_the_visits_to_come_that_need_it(therapist, coordinator_client, booked):
    with f.clock_at(f.local(WEDNESDAY, "10:00")):
        response = coordinator_client.patch(
            f"/api/v1/therapists/{therapist.pk}", {"skills": ["palliative"]}, format="json"
        )

    assert response.status_code == 200, response.content
    assert _state(booked["oncology"]) == (VisitStatus.REQUESTED, None)
    assert booked["oncology"].status_reason == UNBOOKED.format(name=therapist.display_name)
    assert _state(booked["palliative"]) == (VisitStatus.SCHEDULED, therapist.pk)
    assert _state(booked["yesterday"]) == (VisitStatus.SCHEDULED, therapist.pk)  # a past day is not re-planned


def test_a_credential_taken_away_unbooks_the_facilitys_visits_to_come(therapist, coordinator_client, booked,
                                                                       facility, credential):
    facility.required_credentials.set([credential])
    with f.clock_at(f.local(WEDNESDAY, "10:00")):
        response = coordinator_client.patch(f"/api/v1/therapists/{therapist.pk}", {"credentials": []}, format="json")

    assert response.status_code == 200, response.content
    assert _state(booked["oncology"]) == (VisitStatus.REQUESTED, None)
    assert _state(booked["palliative"]) == (VisitStatus.SCHEDULED, therapist.pk)


def test_a_credential_newly_required_by_the_facility_unbooks_those_without_it(
    organization, therapist, coordinator_client, booked, facility
):
    newly = f.CredentialTypeFactory(organization=organization)
    with f.clock_at(f.local(WEDNESDAY, "10:00")):
        response = coordinator_client.patch(
            f"/api/v1/facilities/{facility.pk}", {"required_credentials": [newly.code]}, format="json"
        )

    assert response.status_code == 200, response.content
    assert _state(booked["oncology"]) == (VisitStatus.REQUESTED, None)
    assert _state(booked["palliative"]) == (VisitStatus.SCHEDULED, therapist.pk)
    assert _state(booked["yesterday"]) == (VisitStatus.SCHEDULED, therapist.pk)


def test_a_change_that_takes_nothing_needed_keeps_the_bookings(therapist, coordinator_client, booked):
    with f.clock_at(f.local(WEDNESDAY, "10:00")):
        response = coordinator_client.patch(
            f"/api/v1/therapists/{therapist.pk}", {"skills": ["oncology", "palliative", "mld"]}, format="json"
        )

    assert response.status_code == 200, response.content
    for name in ("oncology", "palliative"):
        assert _state(booked[name]) == (VisitStatus.SCHEDULED, therapist.pk), name
