"""Every role against every resource: allowed, forbidden for the role (403), not yours (404), anonymous (401)."""
from __future__ import annotations

import pytest

from tests.factories import TherapistFactory

ROLES = ["coordinator", "therapist", "other_therapist", "staff_x", "staff_y", "other_org", "anonymous"]


def _expect(table: dict[str, int]) -> list[tuple[str, int]]:
    return [(role, table[role]) for role in ROLES]


# List endpoints answer 200 with what the role may see, or 403 when the role may not list at all.
LISTS = {
    "/api/v1/therapists": dict(coordinator=200, therapist=200, other_therapist=200, staff_x=403, staff_y=403, other_org=200, anonymous=401),
    "/api/v1/facilities": dict(coordinator=200, therapist=200, other_therapist=200, staff_x=200, staff_y=200, other_org=200, anonymous=401),
    "/api/v1/patients": dict(coordinator=200, therapist=200, other_therapist=200, staff_x=200, staff_y=200, other_org=200, anonymous=401),
    "/api/v1/visits": dict(coordinator=200, therapist=200, other_therapist=200, staff_x=200, staff_y=200, other_org=200, anonymous=401),
    "/api/v1/availability/weekly": dict(coordinator=200, therapist=200, other_therapist=200, staff_x=403, staff_y=403, other_org=200, anonymous=401),
    "/api/v1/availability/exceptions": dict(coordinator=200, therapist=200, other_therapist=200, staff_x=403, staff_y=403, other_org=200, anonymous=401),
    "/api/v1/availability/breaks": dict(coordinator=200, therapist=200, other_therapist=200, staff_x=403, staff_y=403, other_org=200, anonymous=401),
}


@pytest.mark.parametrize("path", LISTS)
@pytest.mark.parametrize("role", ROLES)
def test_each_role_lists_a_resource_with_the_expected_status(world, path, role):
    assert world.clients[role].get(path).status_code == LISTS[path][role]


@pytest.mark.parametrize(
    ("role", "expected_ids"),
    [
        ("coordinator", {"visit_x", "visit_y", "visit_home"}),
        ("therapist", {"visit_x"}),
        ("other_therapist", {"visit_home"}),
        ("staff_x", {"visit_x"}),
        ("staff_y", {"visit_y"}),
        ("other_org", set()),
    ],
)
def test_the_visit_list_holds_only_the_visits_the_role_may_see(world, role, expected_ids):
    body = world.clients[role].get("/api/v1/visits").json()
    assert {v["id"] for v in body["results"]} == {getattr(world, name).pk for name in expected_ids}


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("coordinator", {"patient_x", "patient_y", "patient_home"}),
        ("therapist", {"patient_x"}),
        ("other_therapist", {"patient_home"}),
        ("staff_x", {"patient_x"}),
        ("staff_y", {"patient_y"}),
        ("other_org", set()),
    ],
)
def test_the_patient_list_holds_only_the_patients_the_role_may_see(world, role, expected):
    body = world.clients[role].get("/api/v1/patients").json()
    assert {p["id"] for p in body["results"]} == {getattr(world, name).pk for name in expected}


# Retrieve: (path builder, expected per role)
DETAILS = {
    "therapist": (
        lambda w: f"/api/v1/therapists/{w.therapist.pk}",
        dict(coordinator=200, therapist=200, other_therapist=404, staff_x=403, staff_y=403, other_org=404, anonymous=401),
    ),
    "facility_x": (
        lambda w: f"/api/v1/facilities/{w.facility_x.pk}",
        dict(coordinator=200, therapist=200, other_therapist=200, staff_x=200, staff_y=404, other_org=404, anonymous=401),
    ),
    "patient_x": (
        lambda w: f"/api/v1/patients/{w.patient_x.pk}",
        dict(coordinator=200, therapist=200, other_therapist=404, staff_x=200, staff_y=404, other_org=404, anonymous=401),
    ),
    "visit_x": (
        lambda w: f"/api/v1/visits/{w.visit_x.pk}",
        dict(coordinator=200, therapist=200, other_therapist=404, staff_x=200, staff_y=404, other_org=404, anonymous=401),
    ),
    "weekly_availability": (
        lambda w: f"/api/v1/availability/weekly/{w.therapist.weekly_availability.first().pk}",
        dict(coordinator=200, therapist=200, other_therapist=404, staff_x=403, staff_y=403, other_org=404, anonymous=401),
    ),
    "visit_history": (
        lambda w: f"/api/v1/visits/{w.visit_x.pk}/history",
        dict(coordinator=200, therapist=403, other_therapist=403, staff_x=403, staff_y=403, other_org=404, anonymous=401),
    ),
    "patient_history": (
        lambda w: f"/api/v1/patients/{w.patient_x.pk}/history",
        dict(coordinator=200, therapist=403, other_therapist=403, staff_x=403, staff_y=403, other_org=404, anonymous=401),
    ),
}


@pytest.mark.parametrize("resource", DETAILS)
@pytest.mark.parametrize("role", ROLES)
def test_each_role_retrieves_a_resource_with_the_expected_status(world, resource, role):
    path, expected = DETAILS[resource]
    assert world.clients[role].get(path(world)).status_code == expected[role]


def _patient_body(w):
    return {"first_name": "Ada", "last_name": "Lovelace", "facility": w.facility_x.pk, "room": "3"}


def _visit_body(w):
    day = w.visit_x.date.isoformat()
    return {
        "patient": w.patient_x.pk,
        "date": day,
        "duration_min": 45,
        "windows": [{"start": f"{day}T13:00:00-05:00", "end": f"{day}T16:00:00-05:00"}],
    }


CREATES = {
    "therapist": (
        "/api/v1/therapists",
        lambda w: {"username": "newtherapist", "display_name": "New T", "home_address": "1 Main", "home_lat": 43.7, "home_lon": -79.4},
        dict(coordinator=201, therapist=403, other_therapist=403, staff_x=403, staff_y=403, other_org=201, anonymous=401),
    ),
    "facility": (
        "/api/v1/facilities",
        lambda w: {"name": "New Hospice", "kind": "hospice", "address": "2 Main", "lat": 43.7, "lon": -79.4},
        dict(coordinator=201, therapist=403, other_therapist=403, staff_x=403, staff_y=403, other_org=201, anonymous=401),
    ),
    # A facility_x patient: staff_y cannot name facility X (404), another organisation cannot either.
    "patient": (
        "/api/v1/patients",
        _patient_body,
        dict(coordinator=201, therapist=403, other_therapist=403, staff_x=201, staff_y=404, other_org=404, anonymous=401),
    ),
    "visit": (
        "/api/v1/visits",
        _visit_body,
        dict(coordinator=201, therapist=403, other_therapist=403, staff_x=201, staff_y=404, other_org=404, anonymous=401),
    ),
    "weekly_availability": (
        "/api/v1/availability/weekly",
        lambda w: {"therapist": w.therapist.pk, "weekday": 0, "start_time": "18:00", "end_time": "20:00"},
        dict(coordinator=201, therapist=403, other_therapist=403, staff_x=403, staff_y=403, other_org=404, anonymous=401),
    ),
    "availability_exception": (
        "/api/v1/availability/exceptions",
        lambda w: {"therapist": w.therapist.pk, "date": "2030-01-02", "kind": "time_off"},
        dict(coordinator=201, therapist=403, other_therapist=403, staff_x=403, staff_y=403, other_org=404, anonymous=401),
    ),
    "break": (
        "/api/v1/availability/breaks",
        lambda w: {"therapist": w.therapist.pk, "earliest_start": "11:30", "latest_start": "13:30", "duration_min": 30},
        dict(coordinator=201, therapist=403, other_therapist=403, staff_x=403, staff_y=403, other_org=404, anonymous=401),
    ),
}


@pytest.mark.parametrize("resource", CREATES)
@pytest.mark.parametrize("role", ROLES)
def test_each_role_creates_a_resource_with_the_expected_status(world, resource, role):
    path, body, expected = CREATES[resource]
    response = world.clients[role].post(path, body(world), format="json")
    assert response.status_code == expected[role], response.content


UPDATES = {
    "therapist": (
        lambda w: f"/api/v1/therapists/{w.therapist.pk}",
        {"max_visits_per_day": 6},
        dict(coordinator=200, therapist=403, other_therapist=403, staff_x=403, staff_y=403, other_org=404, anonymous=401),
    ),
    "facility": (
        lambda w: f"/api/v1/facilities/{w.facility_x.pk}",
        {"phone": "555-0100"},
        dict(coordinator=200, therapist=403, other_therapist=403, staff_x=403, staff_y=403, other_org=404, anonymous=401),
    ),
    "patient": (
        lambda w: f"/api/v1/patients/{w.patient_x.pk}",
        {"access_notes": "Ward 4 entrance"},
        dict(coordinator=200, therapist=403, other_therapist=403, staff_x=200, staff_y=404, other_org=404, anonymous=401),
    ),
    "visit": (
        lambda w: f"/api/v1/visits/{w.visit_y.pk}",
        {"instructions": "Bring the bolster"},
        dict(coordinator=200, therapist=403, other_therapist=403, staff_x=404, staff_y=200, other_org=404, anonymous=401),
    ),
    "weekly_availability": (
        lambda w: f"/api/v1/availability/weekly/{w.therapist.weekly_availability.first().pk}",
        {"end_time": "16:00"},
        dict(coordinator=200, therapist=403, other_therapist=403, staff_x=403, staff_y=403, other_org=404, anonymous=401),
    ),
}


@pytest.mark.parametrize("resource", UPDATES)
@pytest.mark.parametrize("role", ROLES)
def test_each_role_updates_a_resource_with_the_expected_status(world, resource, role):
    path, body, expected = UPDATES[resource]
    response = world.clients[role].patch(path(world), body, format="json")
    assert response.status_code == expected[role], response.content


DELETES = {
    "facility": (
        lambda w: f"/api/v1/facilities/{w.facility_y.pk}",
        dict(coordinator=409, therapist=403, other_therapist=403, staff_x=403, staff_y=403, other_org=404, anonymous=401),
    ),
    "patient": (
        lambda w: f"/api/v1/patients/{w.patient_home.pk}",
        dict(coordinator=409, therapist=403, other_therapist=403, staff_x=403, staff_y=403, other_org=404, anonymous=401),
    ),
    "weekly_availability": (
        lambda w: f"/api/v1/availability/weekly/{w.therapist.weekly_availability.first().pk}",
        dict(coordinator=204, therapist=403, other_therapist=403, staff_x=403, staff_y=403, other_org=404, anonymous=401),
    ),
    "therapist_without_visits": (
        lambda w: f"/api/v1/therapists/{TherapistFactory(organization=w.org).pk}",
        dict(coordinator=204, therapist=403, other_therapist=403, staff_x=403, staff_y=403, other_org=404, anonymous=401),
    ),
}


@pytest.mark.parametrize("resource", DELETES)
@pytest.mark.parametrize("role", ROLES)
def test_each_role_deletes_a_resource_with_the_expected_status(world, resource, role):
    """Records still referenced by visits are protected: 409, not 500."""
    path, expected = DELETES[resource]
    assert world.clients[role].delete(path(world)).status_code == expected[role]
