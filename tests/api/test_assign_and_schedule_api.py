from __future__ import annotations

import datetime as dt

import pytest

from dispatch.models import TherapistCredential, VisitStatus
from tests.factories import CredentialTypeFactory, TherapistFactory, VisitFactory, clock_at, local


def _assign(w, visit, therapist, hhmm):
    return w.clients["coordinator"].post(
        f"/api/v1/visits/{visit.pk}/assign",
        {"therapist": therapist.pk, "planned_start": local(visit.date, hhmm).isoformat()},
        format="json",
    )


def test_assigning_a_therapist_inside_the_window_schedules_the_visit(world):
    response = _assign(world, world.visit_y, world.therapist, "10:00")
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["therapist"]) == (VisitStatus.SCHEDULED, world.therapist.pk)
    # Hospital: a 15-minute buffer after the 30-minute session.
    assert dt.datetime.fromisoformat(body["planned_busy_until"]) == local(world.visit_y.date, "10:45")


def test_assigning_a_therapist_without_the_required_skill_is_refused_with_the_reason(world, skills):
    world.visit_y.required_skills.add(skills["oncology"])
    response = _assign(world, world.visit_y, world.therapist, "10:00")
    assert response.status_code == 400
    assert any("lacks the skills oncology" in r for r in response.json()["extra"]["reasons"])


def test_assigning_a_therapist_whose_credential_expired_is_refused(world):
    credential = CredentialTypeFactory(organization=world.org, code="hospital-badge")
    world.facility_y.required_credentials.add(credential)
    TherapistCredential.objects.create(
        therapist=world.therapist, credential_type=credential, expires_on=world.visit_y.date - dt.timedelta(days=1)
    )
    response = _assign(world, world.visit_y, world.therapist, "10:00")
    assert response.status_code == 400
    assert any("holds no hospital-badge credential valid on" in r for r in response.json()["extra"]["reasons"])


def test_assigning_outside_every_window_is_refused(world):
    response = _assign(world, world.visit_y, world.therapist, "13:00")
    assert response.status_code == 400
    assert any("outside every window" in r for r in response.json()["extra"]["reasons"])


def test_assigning_on_another_day_says_so_and_not_that_the_therapist_is_off_on_the_visits_day(world):
    # Found by an outside tester: a time on the next day read "not available 10:00-10:30 on <the visit's day>".
    next_day = world.visit_y.date + dt.timedelta(days=1)
    response = world.clients["coordinator"].post(
        f"/api/v1/visits/{world.visit_y.pk}/assign",
        {"therapist": world.therapist.pk, "planned_start": local(next_day, "10:00").isoformat()}, format="json",
    )
    assert response.status_code == 400
    reasons = response.json()["extra"]["reasons"]
    assert f"Visit {world.visit_y.pk} is for {world.visit_y.date}; 10:00 is on another day." in reasons
    assert not any("not available" in r for r in reasons), reasons


def test_assigning_into_another_visits_buffer_is_a_409_naming_the_other_visit(world):
    # visit_x holds the therapist 09:00-09:30 with no buffer recorded; give it the hospital's 15 minutes.
    world.visit_x.planned_busy_until = local(world.visit_x.date, "09:45")
    world.visit_x.save()
    response = _assign(world, world.visit_y, world.therapist, "09:40")
    assert response.status_code == 409
    assert response.json()["code"] == "slot_taken"
    assert any(f"already has visit {world.visit_x.pk}" in r for r in response.json()["extra"]["reasons"])


def test_a_therapist_of_another_organisation_cannot_be_assigned(world):
    stranger = TherapistFactory()
    assert _assign(world, world.visit_y, stranger, "10:00").status_code == 404


@pytest.mark.parametrize("role", ["therapist", "staff_y"])
def test_only_coordinators_may_assign(world, role):
    response = world.clients[role].post(
        f"/api/v1/visits/{world.visit_y.pk}/assign",
        {"therapist": world.therapist.pk, "planned_start": local(world.visit_y.date, "10:00").isoformat()},
        format="json",
    )
    assert response.status_code == 403


@pytest.mark.postgres  # the exclusion constraint exists on PostgreSQL only
def test_on_postgresql_a_clash_the_query_missed_is_still_a_409_not_a_500(world, monkeypatch):
    from dispatch.services import booking

    monkeypatch.setattr(booking, "visit_overlapping", lambda **kwargs: booking.Visit.objects.none())
    response = _assign(world, world.visit_y, world.therapist, "09:15")
    assert response.status_code == 409


class TestSchedule:
    def test_a_coordinator_sees_every_therapists_day_with_visits_in_order(self, world):
        later = VisitFactory(organization=world.org, patient=world.patient_home, windows=[("13:00", "15:00")])
        _assign(world, later, world.therapist, "13:00")
        days = world.clients["coordinator"].get("/api/v1/schedule", {"date": world.visit_x.date.isoformat()}).json()
        by_therapist = {d["therapist"]: d for d in days}
        assert set(by_therapist) == {world.therapist.pk, world.other_therapist.pk}
        mine = by_therapist[world.therapist.pk]
        assert [v["id"] for v in mine["visits"]] == [world.visit_x.pk, later.pk]
        assert mine["visits"][0]["patient_initials"] == world.patient_x.initials
        assert mine["visits"][1]["care_setting"] == "home"
        shifts = [(dt.datetime.fromisoformat(s["start"]), dt.datetime.fromisoformat(s["end"])) for s in mine["shifts"]]
        assert shifts == [(local(world.visit_x.date, "08:00"), local(world.visit_x.date, "17:00"))]

    def test_a_therapist_sees_only_their_own_day(self, world):
        days = world.clients["therapist"].get("/api/v1/schedule", {"date": world.visit_x.date.isoformat()}).json()
        assert [d["therapist"] for d in days] == [world.therapist.pk]

    def test_a_therapist_asking_for_a_colleagues_day_gets_404(self, world):
        response = world.clients["therapist"].get(
            "/api/v1/schedule", {"date": world.visit_x.date.isoformat(), "therapist": world.other_therapist.pk}
        )
        assert response.status_code == 404

    def test_time_off_removes_the_shift(self, world):
        world.therapist.availability_exceptions.create(date=world.visit_x.date, kind="time_off")
        days = world.clients["coordinator"].get(
            "/api/v1/schedule", {"date": world.visit_x.date.isoformat(), "therapist": world.therapist.pk}
        ).json()
        assert days[0]["shifts"] == []

    def test_facility_staff_get_403(self, world):
        assert world.clients["staff_x"].get("/api/v1/schedule", {"date": "2030-01-01"}).status_code == 403

    def test_a_missing_date_is_a_400_naming_date(self, world):
        response = world.clients["coordinator"].get("/api/v1/schedule")
        assert response.status_code == 400 and list(response.json()) == ["date"]


def test_assigning_a_therapist_of_another_gender_than_the_patient_needs_is_refused(world):
    # Found by the simulation (seed 1): a reassign by hand gave a patient who needs a woman a male therapist.
    world.visit_y.patient.preferred_therapist_gender = "female"
    world.visit_y.patient.save()
    world.therapist.gender = "male"
    world.therapist.save()
    response = _assign(world, world.visit_y, world.therapist, "10:00")
    assert response.status_code == 400
    assert any("needs a female therapist" in r for r in response.json()["extra"]["reasons"])


def test_assigning_a_therapist_who_does_not_speak_the_patients_language_is_refused(world):
    world.visit_y.patient.language = "fr"
    world.visit_y.patient.save()
    world.therapist.languages = ["en"]
    world.therapist.save()
    response = _assign(world, world.visit_y, world.therapist, "10:00")
    assert response.status_code == 400
    assert any("speaks fr" in r for r in response.json()["extra"]["reasons"])


def test_a_therapist_who_meets_the_patients_needs_is_assigned(world):
    world.visit_y.patient.preferred_therapist_gender = "female"
    world.visit_y.patient.language = "fr"
    world.visit_y.patient.save()
    world.therapist.gender = "female"
    world.therapist.languages = ["en", "fr"]
    world.therapist.save()
    # 11:00, not 10:00: the therapist's 09:00 visit at facility X (random coordinates) plus its buffer and the
    # drive to facility Y can reach past 10:00, which failed the test now and then for a reason it is not about.
    response = _assign(world, world.visit_y, world.therapist, "11:00")
    assert response.status_code == 200, response.content


def test_assigning_a_visit_after_the_patients_referral_expired_is_refused(world):
    patient = world.visit_y.patient
    patient.referral_date = world.visit_y.date - dt.timedelta(days=30)
    patient.referral_expires = world.visit_y.date - dt.timedelta(days=1)
    patient.save()
    response = _assign(world, world.visit_y, world.therapist, "11:00")
    assert response.status_code == 400
    assert any("referral expired on" in r for r in response.json()["extra"]["reasons"])
    world.visit_y.refresh_from_db()
    assert world.visit_y.status == VisitStatus.REQUESTED


def test_assigning_a_visit_beyond_the_authorised_units_is_refused_and_a_used_unit_is_counted(world):
    patient = world.visit_y.patient
    patient.units_authorized, patient.units_used = 1, 1
    patient.save()
    refused = _assign(world, world.visit_y, world.therapist, "11:00")
    assert refused.status_code == 400
    reasons = refused.json()["extra"]["reasons"]
    assert any("1 authorised units are used or booked (1 used, 0 booked)" in r for r in reasons)

    patient.units_authorized = 2
    patient.save()
    assert _assign(world, world.visit_y, world.therapist, "11:00").status_code == 200
    therapist = world.clients["therapist"]
    at = local(world.visit_y.date, "11:00")
    with clock_at(at) as clock:
        checked_in = therapist.post(
            f"/api/v1/visits/{world.visit_y.pk}/check-in", {"at": at.isoformat()}, format="json"
        )
        assert checked_in.status_code == 200, checked_in.data
        out = at + dt.timedelta(minutes=30)
        clock.move_to(out)
        checked_out = therapist.post(
            f"/api/v1/visits/{world.visit_y.pk}/check-out", {"at": out.isoformat()}, format="json"
        )
    assert checked_out.status_code == 200, checked_out.data
    patient.refresh_from_db()
    assert patient.units_used == 2
