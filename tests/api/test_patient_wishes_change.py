"""A patient's wishes changed through `PATCH /api/v1/patients/{id}` (a therapist excluded, a gender or a language
needed, a referral cut short) unbook the visits still to come that are booked on a therapist who no longer meets them, with the reason, in
the same transaction. Before, the excluded therapist still came to tomorrow's visit (booking and the planner refuse
such a therapist; the simulator's booked_respects_exclusions and booked_meets_patient_needs invariants)."""
from __future__ import annotations

import datetime as dt

import pytest

from dispatch.models import Gender, VisitStatus
from dispatch.services.booking import visit_book
from tests import factories as f

WEDNESDAY = dt.date(2027, 1, 13)
UNBOOKED = "Unbooked: the patient's wishes changed and {name} no longer meets them; open to plan again."


@pytest.fixture
def patient(organization):
    return f.PatientFactory(organization=organization)


@pytest.fixture
def booked(patient, therapist, coordinator):
    """Yesterday's visit (a record of what happened), and today's and tomorrow's still to come, all on the therapist."""
    visits = {}
    for name, day in (("yesterday", WEDNESDAY - dt.timedelta(days=1)), ("today", WEDNESDAY),
                      ("tomorrow", WEDNESDAY + dt.timedelta(days=1))):
        visit = f.VisitFactory(organization=patient.organization, patient=patient, date=day,
                               windows=[("08:00", "16:00")])
        visits[name] = visit_book(visit=visit, therapist=therapist, planned_start=f.local(day, "14:00"),
                                  by=coordinator)
    return visits


def _state(visit) -> tuple[str, int | None]:
    visit.refresh_from_db()
    return visit.status, visit.therapist_id


def test_excluding_the_booked_therapist_unbooks_what_is_still_to_come_and_says_why(
    patient, therapist, coordinator_client, booked
):
    with f.clock_at(f.local(WEDNESDAY, "10:00")):
        response = coordinator_client.patch(
            f"/api/v1/patients/{patient.pk}", {"excluded_therapists": [therapist.pk]}, format="json"
        )

    assert response.status_code == 200, response.content
    for name in ("today", "tomorrow"):
        assert _state(booked[name]) == (VisitStatus.REQUESTED, None), name
        assert booked[name].status_reason == UNBOOKED.format(name=therapist.display_name)
    assert _state(booked["yesterday"]) == (VisitStatus.SCHEDULED, therapist.pk)


@pytest.mark.parametrize("change", [{"preferred_therapist_gender": Gender.FEMALE}, {"language": "pt"}])
def test_a_need_the_therapist_does_not_meet_unbooks_them(patient, therapist, coordinator_client, booked, change):
    therapist.gender, therapist.languages = Gender.MALE, ["en"]
    therapist.save()
    with f.clock_at(f.local(WEDNESDAY, "10:00")):
        response = coordinator_client.patch(f"/api/v1/patients/{patient.pk}", change, format="json")

    assert response.status_code == 200, response.content
    assert _state(booked["tomorrow"]) == (VisitStatus.REQUESTED, None)


def test_a_change_the_therapist_still_meets_keeps_the_bookings(patient, therapist, coordinator_client, booked):
    therapist.gender, therapist.languages = Gender.FEMALE, ["en", "pt"]
    therapist.save()
    other = f.TherapistFactory(organization=therapist.organization)
    with f.clock_at(f.local(WEDNESDAY, "10:00")):
        response = coordinator_client.patch(
            f"/api/v1/patients/{patient.pk}",
            {"preferred_therapist_gender": Gender.FEMALE, "language": "pt", "excluded_therapists": [other.pk]},
            format="json",
        )

    assert response.status_code == 200, response.content
    for name in ("today", "tomorrow"):
        assert _state(booked[name]) == (VisitStatus.SCHEDULED, therapist.pk), name


def test_a_referral_cut_short_unbooks_the_visits_past_it(patient, therapist, coordinator_client, booked):
    with f.clock_at(f.local(WEDNESDAY, "10:00")):
        response = coordinator_client.patch(
            f"/api/v1/patients/{patient.pk}", {"referral_expires": WEDNESDAY.isoformat()}, format="json"
        )

    assert response.status_code == 200, response.content
    assert _state(booked["tomorrow"]) == (VisitStatus.REQUESTED, None)
    assert booked["tomorrow"].status_reason == (
        "Unbooked: the patient's referral no longer covers the visit's day; it is open to plan again."
    )
    assert _state(booked["today"]) == (VisitStatus.SCHEDULED, therapist.pk)
