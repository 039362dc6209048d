from __future__ import annotations

import datetime as dt

from django.utils import timezone

from dispatch.models import Contraindication, Patient, Therapist, Visit, VisitSeries
from tests.factories import CredentialTypeFactory

HIDDEN_FROM_THERAPISTS = {
    "diagnosis", "referring_clinician", "referral_date", "referral_expires", "payer", "date_of_birth", "last_name"
}


def test_a_therapists_view_of_a_patient_has_no_diagnosis_payer_or_referral(world):
    body = world.clients["therapist"].get(f"/api/v1/patients/{world.patient_x.pk}").json()
    assert HIDDEN_FROM_THERAPISTS.isdisjoint(body)
    assert body["last_initial"] == world.patient_x.last_name[0].upper()
    assert body["room"] == "12"


def test_a_therapist_sees_only_the_contraindications_active_today(world):
    today = timezone.localdate(timezone=world.org.tz)
    Contraindication.objects.create(patient=world.patient_x, kind="fever", active_from=today)
    Contraindication.objects.create(
        patient=world.patient_x,
        kind="dvt",
        active_from=today - dt.timedelta(days=9),
        active_until=today - dt.timedelta(days=2),
    )
    body = world.clients["therapist"].get(f"/api/v1/patients/{world.patient_x.pk}").json()
    assert [c["kind"] for c in body["contraindications"]] == ["fever"]


def test_a_coordinator_sees_the_whole_patient_record(world):
    body = world.clients["coordinator"].get(f"/api/v1/patients/{world.patient_x.pk}").json()
    assert body["diagnosis"] == world.patient_x.diagnosis


def test_facility_staff_registering_a_patient_get_their_own_facility(world):
    response = world.clients["staff_y"].post(
        "/api/v1/patients", {"first_name": "Grace", "last_name": "Hopper", "room": "7"}, format="json"
    )
    assert response.status_code == 201
    assert response.json()["facility"] == world.facility_y.pk


def test_a_patient_is_created_with_intake_lists_and_an_update_replaces_them(world):
    client = world.clients["coordinator"]
    body = {
        "first_name": "Alan", "last_name": "Turing", "address": "3 King St", "lat": 43.65, "lon": -79.38,
        "contraindications": [{"kind": "fever", "active_from": "2030-01-01", "active_until": "2030-01-05"}],
        "precautions": [{"kind": "device", "body_site": "left arm", "note": "PICC line"}],
        "payer": "Blue Cross", "units_authorized": 10,
    }
    created = client.post("/api/v1/patients", body, format="json")
    assert created.status_code == 201, created.content
    patient = Patient.objects.get(pk=created.json()["id"])
    assert patient.precautions.get().note == "PICC line"
    client.patch(f"/api/v1/patients/{patient.pk}", {"precautions": []}, format="json")
    assert not patient.precautions.exists()
    assert patient.contraindications.count() == 1


def test_a_home_patient_without_coordinates_or_address_is_a_400_naming_lat(world):
    response = world.clients["coordinator"].post(
        "/api/v1/patients", {"first_name": "No", "last_name": "Where"}, format="json"
    )
    assert response.status_code == 400
    assert "lat" in response.json()


def test_a_contraindication_ending_before_it_starts_is_a_field_400(world):
    body = {"contraindications": [{"kind": "fever", "active_from": "2030-01-05", "active_until": "2030-01-01"}]}
    response = world.clients["coordinator"].patch(f"/api/v1/patients/{world.patient_x.pk}", body, format="json")
    assert response.status_code == 400
    assert "active_until" in response.json()["contraindications"]["0"]


def test_a_therapist_is_created_with_a_login_skills_and_credentials(world, skills):
    CredentialTypeFactory(organization=world.org, code="hospice-cert")
    body = {
        "username": "mara", "display_name": "Mara K", "home_address": "5 Bay St", "home_lat": 43.66, "home_lon": -79.39,
        "skills": ["palliative"], "languages": ["en", "fr"], "gender": "female", "speed_profile": "transit",
        "credentials": [{"credential_type": "hospice-cert", "expires_on": "2031-01-01"}],
    }
    response = world.clients["coordinator"].post("/api/v1/therapists", body, format="json")
    assert response.status_code == 201, response.content
    therapist = Therapist.objects.get(pk=response.json()["id"])
    assert (therapist.user.username, therapist.user.role, therapist.organization) == ("mara", "therapist", world.org)
    assert response.json()["credentials"] == [{"credential_type": "hospice-cert", "expires_on": "2031-01-01"}]


def test_creating_a_therapist_without_a_username_is_a_400_naming_username(world):
    response = world.clients["coordinator"].post(
        "/api/v1/therapists",
        {"display_name": "X", "home_address": "1", "home_lat": 43.6, "home_lon": -79.4},
        format="json"
    )
    assert response.status_code == 400
    assert "username" in response.json()


def test_a_credential_type_of_another_organisation_is_unknown(world):
    CredentialTypeFactory(code="elsewhere")
    response = world.clients["coordinator"].patch(
        f"/api/v1/facilities/{world.facility_x.pk}", {"required_credentials": ["elsewhere"]}, format="json"
    )
    assert response.status_code == 400
    assert "required_credentials" in response.json()


def test_a_facility_name_taken_in_the_organisation_is_a_400(world):
    body = {"name": "Facility X", "kind": "hospice", "address": "2 Main", "lat": 43.7, "lon": -79.4}
    assert world.clients["coordinator"].post("/api/v1/facilities", body, format="json").status_code == 400


def test_an_extra_shift_without_times_is_a_400(world):
    response = world.clients["coordinator"].post(
        "/api/v1/availability/exceptions",
        {"therapist": world.therapist.pk, "date": "2030-01-02", "kind": "extra_shift"},
        format="json"
    )
    assert response.status_code == 400


def test_availability_filters_by_therapist(world):
    client = world.clients["coordinator"]
    rows = client.get("/api/v1/availability/weekly", {"therapist": world.other_therapist.pk}).json()
    assert {r["therapist"] for r in rows["results"]} == {world.other_therapist.pk}


class TestSeries:
    def _body(self, w, **overrides):
        start = timezone.localdate(timezone=w.org.tz) + dt.timedelta(days=7)
        body = {
            "patient": w.patient_x.pk, "weekdays": [0, 3], "window_start": "09:00", "window_end": "12:00",
            "duration_min": 60, "starts_on": start.isoformat(),
            "ends_on": (start + dt.timedelta(weeks=4, days=-1)).isoformat(),
        }
        return body | overrides

    def test_a_weekly_series_creates_one_request_per_matching_day(self, world):
        response = world.clients["staff_x"].post("/api/v1/visit-series", self._body(world), format="json")
        assert response.status_code == 201, response.content
        series = VisitSeries.objects.get(pk=response.json()["id"])
        visits = list(Visit.objects.filter(series=series))
        assert len(visits) == 8
        assert {v.date.weekday() for v in visits} == {0, 3}
        window = visits[0].windows.get()
        assert window.start.astimezone(world.org.tz).time() == dt.time(9)

    def test_a_series_longer_than_26_weeks_is_refused_naming_ends_on(self, world):
        body = self._body(world)
        body["ends_on"] = (dt.date.fromisoformat(body["starts_on"]) + dt.timedelta(weeks=27)).isoformat()
        response = world.clients["coordinator"].post("/api/v1/visit-series", body, format="json")
        assert response.status_code == 400
        assert "at most 26 weeks" in response.json()["ends_on"][0]
        assert not VisitSeries.objects.exists()

    def test_facility_staff_cannot_start_a_series_for_another_facilitys_patient(self, world):
        response = world.clients["staff_y"].post("/api/v1/visit-series", self._body(world), format="json")
        assert response.status_code == 404


def test_me_names_the_role_organisation_and_therapist(world):
    body = world.clients["therapist"].get("/api/v1/me").json()
    assert (body["role"], body["organization"], body["therapist"], body["facility"]) == (
        "therapist", world.org.pk, world.therapist.pk, None,
    )
    assert world.clients["staff_x"].get("/api/v1/me").json()["facility"] == world.facility_x.pk
    assert world.clients["anonymous"].get("/api/v1/me").status_code == 401


def test_a_token_from_username_and_password_authenticates_later_requests(world):
    from rest_framework.test import APIClient

    client = APIClient()
    response = client.post("/api/v1/auth/token", {"username": world.coordinator.username, "password": "pw-rounds-test"})
    assert response.status_code == 200
    client.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
    assert client.get("/api/v1/me").json()["username"] == world.coordinator.username
    wrong = client.post("/api/v1/auth/token", {"username": world.coordinator.username, "password": "wrong"})
    assert wrong.status_code == 400
