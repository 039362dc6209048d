"""Every role against every resource: allowed, forbidden for the role (403), not yours (404), anonymous (401).

Every role but anonymous signs in as API clients do: a token from POST /api/v1/auth/token (tests/api/conftest.py).
"""
from __future__ import annotations

import datetime as dt

import pytest

from dispatch.models import AvailabilityException, TherapistBreak, WeeklyAvailability
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


def _exception(w) -> AvailabilityException:
    return AvailabilityException.objects.create(therapist=w.therapist, date=dt.date(2030, 1, 3), kind="time_off")


def _break(w) -> TherapistBreak:
    return TherapistBreak.objects.create(
        therapist=w.therapist, earliest_start=dt.time(11, 30), latest_start=dt.time(13), duration_min=30
    )


def _availability_of_both_therapists(w) -> None:
    for therapist in (w.therapist, w.other_therapist):
        AvailabilityException.objects.create(therapist=therapist, date=dt.date(2030, 1, 3), kind="time_off")
        TherapistBreak.objects.create(
            therapist=therapist, earliest_start=dt.time(12), latest_start=dt.time(13), duration_min=30
        )


AVAILABILITY = {
    "/api/v1/availability/weekly": WeeklyAvailability,
    "/api/v1/availability/exceptions": AvailabilityException,
    "/api/v1/availability/breaks": TherapistBreak,
}


@pytest.mark.parametrize("path", AVAILABILITY)
@pytest.mark.parametrize(
    ("role", "owners"),
    [
        ("coordinator", {"therapist", "other_therapist"}),
        ("therapist", {"therapist"}),
        ("other_therapist", {"other_therapist"}),
        ("other_org", set()),
    ],
)
def test_an_availability_list_holds_only_the_rows_the_role_may_see(world, path, role, owners):
    """Another organisation's coordinator gets 200 and an empty list, never this organisation's rows."""
    _availability_of_both_therapists(world)
    rows = AVAILABILITY[path].objects.filter(therapist__in=[getattr(world, name) for name in owners])
    body = world.clients[role].get(path).json()
    assert {r["id"] for r in body["results"]} == set(rows.values_list("pk", flat=True))
    assert body["count"] == rows.count()


@pytest.mark.parametrize("path", [p for p in LISTS if LISTS[p]["other_org"] == 200])
def test_another_organisation_gets_an_empty_list(world, path):
    _availability_of_both_therapists(world)
    body = world.clients["other_org"].get(path).json()
    assert body["count"] == 0 and body["results"] == []


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
    "availability_exception": (
        lambda w: f"/api/v1/availability/exceptions/{_exception(w).pk}",
        codes("200 200 404 403 403 404 401"),
    ),
    "break": (
        lambda w: f"/api/v1/availability/breaks/{_break(w).pk}",
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
    "availability_exception": (
        lambda w: f"/api/v1/availability/exceptions/{_exception(w).pk}",
        {"note": "Dentist"},
        codes("200 403 403 403 403 404 401"),
    ),
    "break": (
        lambda w: f"/api/v1/availability/breaks/{_break(w).pk}",
        {"duration_min": 45},
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
    "availability_exception": (
        lambda w: f"/api/v1/availability/exceptions/{_exception(w).pk}",
        codes("204 403 403 403 403 404 401"),
    ),
    "break": (
        lambda w: f"/api/v1/availability/breaks/{_break(w).pk}",
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


# PUT replaces the whole record: every writable field in the body.
PUTS = {
    "weekly_availability": (
        lambda w: w.therapist.weekly_availability.first(),
        "/api/v1/availability/weekly/{}",
        # In the evening: the factory's 08:00-17:00 shift that Wednesday would overlap (a 400)
        lambda w: {"therapist": w.therapist.pk, "weekday": 2, "start_time": "18:00", "end_time": "21:00"},
        {"weekday": 2, "start_time": dt.time(18), "end_time": dt.time(21)},
    ),
    "availability_exception": (
        _exception,
        "/api/v1/availability/exceptions/{}",
        lambda w: {
            "therapist": w.therapist.pk, "date": "2030-01-04", "kind": "extra_shift", "start_time": "18:00",
            "end_time": "20:00", "note": "Evening cover",
        },
        {"date": dt.date(2030, 1, 4), "kind": "extra_shift", "start_time": dt.time(18), "note": "Evening cover"},
    ),
    "break": (
        _break,
        "/api/v1/availability/breaks/{}",
        lambda w: {"therapist": w.therapist.pk, "earliest_start": "12:15", "latest_start": "14:00", "duration_min": 20},
        {"earliest_start": dt.time(12, 15), "latest_start": dt.time(14), "duration_min": 20},
    ),
    "facility": (
        lambda w: w.facility_x,
        "/api/v1/facilities/{}",
        lambda w: {
            "name": "Facility X North", "kind": "hospice", "address": "9 Ward Road", "lat": 43.71, "lon": -79.41,
        },
        {"name": "Facility X North", "kind": "hospice", "address": "9 Ward Road", "lat": 43.71},
    ),
}
PUT_STATUSES = codes("200 403 403 403 403 404 401")


@pytest.mark.parametrize("resource", PUTS)
@pytest.mark.parametrize("role", ROLES)
def test_each_role_replaces_a_resource_with_put_with_the_expected_status(world, resource, role):
    """A successful PUT stores every field it sent; a refused one changes nothing."""
    target, path, body, stored = PUTS[resource]
    row = target(world)
    before = {name: getattr(row, name) for name in stored}
    response = world.clients[role].put(path.format(row.pk), body(world), format="json")
    assert response.status_code == PUT_STATUSES[role], response.content
    row.refresh_from_db()
    assert {name: getattr(row, name) for name in stored} == (stored if response.status_code == 200 else before)


@pytest.mark.parametrize(("kind", "make"), [("exceptions", _exception), ("breaks", _break)])
def test_a_coordinator_reads_changes_and_deletes_an_availability_row(world, kind, make):
    row = make(world)
    path = f"/api/v1/availability/{kind}/{row.pk}"
    client = world.clients["coordinator"]
    body = client.get(path).json()
    assert (body["id"], body["therapist"]) == (row.pk, world.therapist.pk)
    change = {"note": "Moved to Friday"} if kind == "exceptions" else {"duration_min": 50}
    assert client.patch(path, change, format="json").json() == {**body, **change}
    row.refresh_from_db()
    assert {name: getattr(row, name) for name in change} == change
    assert client.delete(path).status_code == 204
    assert not type(row).objects.filter(pk=row.pk).exists()
    assert client.get(path).status_code == 404
