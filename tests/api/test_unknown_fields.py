"""A key an input does not take is a 400 naming it, not a 200 that quietly ignored it; so is a query filter value
that is neither true nor false."""
from __future__ import annotations

import pytest

from tests.factories import local


def _request(w, **extra):
    day = w.visit_x.date
    body = {
        "patient": w.patient_x.pk, "date": day.isoformat(), "duration_min": 45,
        "windows": [{"start": local(day, "13:00").isoformat(), "end": local(day, "16:00").isoformat()}],
    }
    return body | extra


def test_a_visit_request_with_coordinator_fields_is_a_400_naming_each(world):
    start = local(world.visit_x.date, "13:00").isoformat()
    body = _request(world, therapist=world.therapist.pk, planned_start=start, status="scheduled", pinned=True)
    response = world.clients["staff_x"].post("/api/v1/visits", body, format="json")
    assert response.status_code == 400, response.content
    errors = response.json()
    assert set(errors) == {"therapist", "planned_start", "status", "pinned"}
    assert "/assign" in errors["therapist"][0]
    assert "/transition" in errors["status"][0]


def test_a_misspelt_key_in_a_nested_window_is_a_400_under_that_window(world):
    body = _request(world)
    body["windows"][0]["ned"] = body["windows"][0]["end"]
    response = world.clients["coordinator"].post("/api/v1/visits", body, format="json")
    assert response.status_code == 400
    assert response.json() == {"windows": {"0": {"ned": ["Unknown field."]}}}


def test_patching_a_visits_status_is_a_400_saying_which_routes_change_it(world):
    before = world.visit_x.status
    response = world.clients["coordinator"].patch(
        f"/api/v1/visits/{world.visit_x.pk}", {"status": "completed"}, format="json"
    )
    assert response.status_code == 400
    assert "/transition" in response.json()["status"][0]
    world.visit_x.refresh_from_db()
    assert world.visit_x.status == before


def test_facility_staff_patching_a_status_get_the_same_400(world):
    response = world.clients["staff_y"].patch(
        f"/api/v1/visits/{world.visit_y.pk}", {"status": "scheduled"}, format="json"
    )
    assert response.status_code == 400 and "/transition" in response.json()["status"][0]


def test_a_check_out_with_a_position_it_does_not_take_is_a_400(world):
    response = world.clients["therapist"].post(
        f"/api/v1/visits/{world.visit_x.pk}/check-out", {"lat": "x", "lon": 999}, format="json"
    )
    assert response.status_code == 400
    assert response.json() == {"lat": ["Unknown field."], "lon": ["Unknown field."]}


def test_unknown_notification_preferences_are_a_400_and_the_known_ones_still_change(world):
    client = world.clients["coordinator"]
    response = client.patch("/api/v1/me/notification-preferences", {"quiet_hours_start": "25:00"}, format="json")
    assert response.status_code == 400 and response.json() == {"quiet_hours_start": ["Unknown field."]}
    response = client.patch("/api/v1/me/notification-preferences", {"quiet_start": "22:00", "quiet_end": "07:00"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["quiet_start"] == "22:00:00"


def test_a_read_only_field_sent_to_a_record_is_a_400_saying_so(world):
    response = world.clients["coordinator"].patch(
        f"/api/v1/patients/{world.patient_x.pk}", {"id": 5, "room": "14"}, format="json"
    )
    assert response.status_code == 400
    assert response.json() == {"id": ["Unknown field."]}


@pytest.mark.parametrize("query", ["home=maybe", "active=yes", "active=2"])
def test_a_patient_filter_that_is_neither_true_nor_false_is_a_400(world, query):
    response = world.clients["coordinator"].get(f"/api/v1/patients?{query}")
    assert response.status_code == 400
    assert response.json() == {query.split("=")[0]: ["Use true or false."]}


@pytest.mark.parametrize("query, expected", [("home=true", "patient_home"), ("home=false", "patient_x")])
def test_a_patient_filter_of_true_or_false_narrows_the_list(world, query, expected):
    response = world.clients["coordinator"].get(f"/api/v1/patients?{query}")
    ids = {p["id"] for p in response.json()["results"]}
    assert getattr(world, expected).pk in ids
