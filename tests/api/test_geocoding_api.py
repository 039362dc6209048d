"""Addresses without coordinates are geocoded when patients and therapists are written through the API.

Clients sign in as they do in production (a token from POST /api/v1/auth/token, or the board's session);
the geocoder is the one ROUNDS_GEOCODER names: the test settings' gazetteer (tests/geocoders.py), never the network.
"""
from __future__ import annotations

import datetime as dt

import pytest
from django.core.management import call_command
from django.test import Client
from rest_framework.test import APIClient

from dispatch import models as m
from dispatch.geocoding import AMBIGUOUS_KM, GEOCODING_OFF, NOT_FOUND
from tests import factories as f
from tests.clients import PASSWORD, signed_in
from tests.geocoders import BAY_ST, DOWN, KING_ST, QUEENS_PARK, Gazetteer

@pytest.fixture(autouse=True)
def _asked():
    Gazetteer.asked.clear()
    yield Gazetteer.asked
    Gazetteer.asked.clear()


@pytest.fixture
def coordinator_api(coordinator) -> APIClient:
    return signed_in(coordinator)


def _home_patient(client, address, **extra):
    return client.post(
        "/api/v1/patients", {"first_name": "Ada", "last_name": "Byron", "address": address, **extra}, format="json"
    )


def test_a_home_patient_given_only_an_address_is_placed_where_the_geocoder_says(coordinator_api, _asked):
    response = _home_patient(coordinator_api, QUEENS_PARK[0])
    assert response.status_code == 201, response.content
    assert (response.json()["lat"], response.json()["lon"]) == (QUEENS_PARK[1], QUEENS_PARK[2])
    patient = m.Patient.objects.get(pk=response.json()["id"])
    assert (patient.lat, patient.lon) == (QUEENS_PARK[1], QUEENS_PARK[2])
    assert _asked == [QUEENS_PARK[0]]


def test_the_same_address_written_differently_is_looked_up_once(coordinator_api, _asked):
    assert _home_patient(coordinator_api, QUEENS_PARK[0]).status_code == 201
    second = _home_patient(coordinator_api, "  100 QUEEN'S PARK,   toronto ")
    assert second.status_code == 201, second.content
    assert (second.json()["lat"], second.json()["lon"]) == (QUEENS_PARK[1], QUEENS_PARK[2])
    assert len(_asked) == 1


def test_an_address_the_geocoder_cannot_find_is_a_400_on_the_address(coordinator_api):
    response = _home_patient(coordinator_api, "0 Nowhere Lane")
    assert response.status_code == 400
    assert response.json() == {"address": [NOT_FOUND.format(address="0 Nowhere Lane")]}
    assert not m.Patient.objects.exists()


def test_an_address_matching_places_far_apart_is_a_400_naming_them(coordinator_api, _asked):
    response = _home_patient(coordinator_api, "1 King St W")
    assert response.status_code == 400
    (message,) = response.json()["address"]
    assert KING_ST[0][0] in message and KING_ST[1][0] in message
    assert not m.Patient.objects.exists()
    # Not remembered as an answer: a second try asks again.
    assert _home_patient(coordinator_api, "1 King St W").status_code == 400
    assert len(_asked) == 2


def test_answers_for_one_building_within_a_kilometre_are_one_place(coordinator_api):
    assert AMBIGUOUS_KM >= 0.1
    response = _home_patient(coordinator_api, "5 Bay St")
    assert response.status_code == 201, response.content
    assert (response.json()["lat"], response.json()["lon"]) == (BAY_ST[0][1], BAY_ST[0][2])


def test_a_geocoder_outage_is_a_400_on_the_address_and_is_not_remembered(coordinator_api, _asked):
    response = _home_patient(coordinator_api, DOWN)
    assert response.status_code == 400
    assert "try again" in response.json()["address"][0]
    assert not m.GeocodeCache.objects.exists()
    assert _home_patient(coordinator_api, DOWN).status_code == 400
    assert _asked.count(DOWN) >= 2


def test_coordinates_given_with_the_address_are_kept_and_nothing_is_looked_up(coordinator_api, _asked):
    response = _home_patient(coordinator_api, QUEENS_PARK[0], lat=43.7, lon=-79.4)
    assert response.status_code == 201, response.content
    assert (response.json()["lat"], response.json()["lon"]) == (43.7, -79.4)
    assert _asked == []


def test_a_patient_who_moves_is_geocoded_at_the_new_address(coordinator_api, _asked):
    created = _home_patient(coordinator_api, "5 Bay St").json()
    moved = coordinator_api.patch(f"/api/v1/patients/{created['id']}", {"address": QUEENS_PARK[0]}, format="json")
    assert moved.status_code == 200, moved.content
    assert (moved.json()["lat"], moved.json()["lon"]) == (QUEENS_PARK[1], QUEENS_PARK[2])
    # A change that leaves the address alone does not ask again.
    renamed = coordinator_api.patch(f"/api/v1/patients/{created['id']}", {"first_name": "Augusta"}, format="json")
    assert renamed.status_code == 200
    assert _asked == ["5 Bay St", QUEENS_PARK[0]]


def test_a_move_to_an_address_not_found_is_a_400_and_the_patient_stays_where_they_were(coordinator_api):
    created = _home_patient(coordinator_api, "5 Bay St").json()
    response = coordinator_api.patch(f"/api/v1/patients/{created['id']}", {"address": "0 Nowhere Lane"}, format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["address"]
    patient = m.Patient.objects.get(pk=created["id"])
    assert (patient.address, patient.lat, patient.lon) == ("5 Bay St", BAY_ST[0][1], BAY_ST[0][2])


def test_a_facility_patient_is_not_geocoded(facility_staff, _asked):
    session = Client()
    assert session.post("/accounts/login/", {"username": facility_staff.username, "password": PASSWORD}).status_code == 302
    response = session.post(
        "/api/v1/patients", {"first_name": "Grace", "last_name": "Hopper", "room": "7"}, content_type="application/json"
    )
    assert response.status_code == 201, response.content
    assert response.json()["facility"] == facility_staff.facility_id
    assert _asked == []


def test_with_geocoding_off_an_address_without_coordinates_is_a_400_saying_so(coordinator_api, settings):
    settings.ROUNDS_GEOCODER = ""
    response = _home_patient(coordinator_api, QUEENS_PARK[0])
    assert response.status_code == 400
    assert response.json() == {"address": [GEOCODING_OFF.format(address=QUEENS_PARK[0])]}


def test_a_therapist_created_with_a_home_address_only_is_placed_by_the_geocoder(coordinator_api):
    body = {"username": "mara", "display_name": "Mara K", "home_address": QUEENS_PARK[0]}
    response = coordinator_api.post("/api/v1/therapists", body, format="json")
    assert response.status_code == 201, response.content
    therapist = m.Therapist.objects.get(pk=response.json()["id"])
    assert (therapist.home_lat, therapist.home_lon) == (QUEENS_PARK[1], QUEENS_PARK[2])


def test_a_therapist_home_address_the_geocoder_cannot_settle_is_a_400_on_home_address(coordinator_api):
    body = {"username": "mara", "display_name": "Mara K", "home_address": "1 King St W"}
    response = coordinator_api.post("/api/v1/therapists", body, format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["home_address"]
    assert not m.Therapist.objects.exists() and not m.User.objects.filter(username="mara").exists()


def test_a_therapist_who_moves_is_geocoded_at_the_new_home(coordinator_api, organization):
    therapist = f.TherapistFactory(organization=organization, home_address="old", home_lat=43.6, home_lon=-79.5)
    response = coordinator_api.patch(f"/api/v1/therapists/{therapist.pk}", {"home_address": "5 Bay St"}, format="json")
    assert response.status_code == 200, response.content
    assert (response.json()["home_lat"], response.json()["home_lon"]) == (BAY_ST[0][1], BAY_ST[0][2])
    refused = coordinator_api.patch(f"/api/v1/therapists/{therapist.pk}", {"home_address": DOWN}, format="json")
    assert refused.status_code == 400 and list(refused.json()) == ["home_address"]
    therapist.refresh_from_db()
    assert (therapist.home_address, therapist.home_lat) == ("5 Bay St", BAY_ST[0][1])


@pytest.mark.django_db
def test_the_demo_region_loads_offline_with_a_geocoder_configured(settings):
    """`make run` seeds the demo with its own coordinates: no lookup even when ROUNDS_GEOCODER is set."""
    settings.ROUNDS_GEOCODER = "tests.geocoders.Refusing"
    call_command("seed_demo", "--date", str(dt.date(2026, 3, 10)), "--visits", "20", "--today-visits", "0")
    assert m.Patient.objects.filter(address__gt="", lat__isnull=False).exists()
