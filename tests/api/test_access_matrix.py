"""Every role against every resource: allowed, forbidden for the role (403), not yours (404), anonymous (401)."""
from __future__ import annotations

import pytest

from tests.factories import TherapistFactory

ROLES = ["coordinator", "therapist", "other_therapist", "staff_x", "staff_y", "other_org", "anonymous"]


def codes(statuses: str) -> dict[str, int]:
    """Statuses in ROLES order: coordinator, therapist, other therapist, staff X, staff Y, other org, anonymous."""
    return dict(zip(ROLES, map(int, statuses.split()), strict=True))


# List endpoints answer 200 with what the role may see, or 403 when the role may not list at all.
LISTS = {
    "/api/v1/therapists": codes("200 200 200 403 403 200 401"),
    "/api/v1/facilities": codes("200 200 200 200 200 200 401"),
    "/api/v1/patients": codes("200 200 200 200 200 200 401"),
    "/api/v1/visits": codes("200 200 200 200 200 200 401"),
    "/api/v1/availability/weekly": codes("200 200 200 403 403 200 401"),
    "/api/v1/availability/exceptions": codes("200 200 200 403 403 200 401"),
    "/api/v1/availability/breaks": codes("200 200 200 403 403 200 401"),
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
        codes("200 200 404 403 403 404 401"),
    ),
    "facility_x": (
        lambda w: f"/api/v1/facilities/{w.facility_x.pk}",
        codes("200 200 200 200 404 404 401"),
    ),
    "patient_x": (
        lambda w: f"/api/v1/patients/{w.patient_x.pk}",
        codes("200 200 404 200 404 404 401"),
    ),
    "visit_x": (
        lambda w: f"/api/v1/visits/{w.visit_x.pk}",
        codes("200 200 404 200 404 404 401"),
    ),
    "weekly_availability": (
        lambda w: f"/api/v1/availability/weekly/{w.therapist.weekly_availability.first().pk}",
        codes("200 200 404 403 403 404 401"),
    ),
    "visit_history": (
        lambda w: f"/api/v1/visits/{w.visit_x.pk}/history",
        codes("200 403 403 403 403 404 401"),
    ),
    "patient_history": (
        lambda w: f"/api/v1/patients/{w.patient_x.pk}/history",
        codes("200 403 403 403 403 404 401"),
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
        lambda w: {
            "username": "newtherapist", "display_name": "New T", "home_address": "1 Main",
            "home_lat": 43.7, "home_lon": -79.4,
        },
        codes("201 403 403 403 403 201 401"),
    ),
    "facility": (
        "/api/v1/facilities",
        lambda w: {"name": "New Hospice", "kind": "hospice", "address": "2 Main", "lat": 43.7, "lon": -79.4},
        codes("201 403 403 403 403 201 401"),
    ),
    # A facility_x patient: staff_y cannot name facility X (404), another organisation cannot either.
    "patient": (
        "/api/v1/patients",
        _patient_body,
        codes("201 403 403 201 404 404 401"),
    ),
    "visit": (
        "/api/v1/visits",
        _visit_body,
        codes("201 403 403 201 404 404 401"),
    ),
    "weekly_availability": (
        "/api/v1/availability/weekly",
        lambda w: {"therapist": w.therapist.pk, "weekday": 0, "start_time": "18:00", "end_time": "20:00"},
        codes("201 403 403 403 403 404 401"),
    ),
    "availability_exception": (
        "/api/v1/availability/exceptions",
        lambda w: {"therapist": w.therapist.pk, "date": "2030-01-02", "kind": "time_off"},
        codes("201 403 403 403 403 404 401"),
    ),
    "break": (
        "/api/v1/availability/breaks",
        lambda w: {
            "therapist": w.therapist.pk, "earliest_start": "11:30", "latest_start": "13:30", "duration_min": 30
        },
        codes("201 403 403 403 403 404 401"),
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
        codes("200 403 403 403 403 404 401"),
    ),
    "facility": (
        lambda w: f"/api/v1/facilities/{w.facility_x.pk}",
        {"phone": "555-0100"},
        codes("200 403 403 403 403 404 401"),
    ),
    "patient": (
        lambda w: f"/api/v1/patients/{w.patient_x.pk}",
        {"access_notes": "Ward 4 entrance"},
        codes("200 403 403 200 404 404 401"),
    ),
    "visit": (
        lambda w: f"/api/v1/visits/{w.visit_y.pk}",
        {"instructions": "Bring the bolster"},
        codes("200 403 403 404 200 404 401"),
    ),
    "weekly_availability": (
        lambda w: f"/api/v1/availability/weekly/{w.therapist.weekly_availability.first().pk}",
        {"end_time": "16:00"},
        codes("200 403 403 403 403 404 401"),
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
        codes("409 403 403 403 403 404 401"),
    ),
    "patient": (
        lambda w: f"/api/v1/patients/{w.patient_home.pk}",
        codes("409 403 403 403 403 404 401"),
    ),
    "weekly_availability": (
        lambda w: f"/api/v1/availability/weekly/{w.therapist.weekly_availability.first().pk}",
        codes("204 403 403 403 403 404 401"),
    ),
    "therapist_without_visits": (
        lambda w: f"/api/v1/therapists/{TherapistFactory(organization=w.org).pk}",
        codes("204 403 403 403 403 404 401"),
    ),
}


@pytest.mark.parametrize("resource", DELETES)
@pytest.mark.parametrize("role", ROLES)
def test_each_role_deletes_a_resource_with_the_expected_status(world, resource, role):
    """Records still referenced by visits are protected: 409, not 500."""
    path, expected = DELETES[resource]
    assert world.clients[role].delete(path(world)).status_code == expected[role]
