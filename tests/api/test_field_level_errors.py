"""Errors a person can act on: on the field concerned, in words, and a refused delete says what still depends."""
from __future__ import annotations

import pytest

from tests import factories as f

HUGE = 99999999999999999999999


def test_a_weekly_shift_that_ends_before_it_starts_is_a_400_on_end_time(world):
    body = {"therapist": world.therapist.pk, "weekday": 6, "start_time": "21:00", "end_time": "20:00"}
    response = world.clients["coordinator"].post("/api/v1/availability/weekly", body, format="json")
    assert response.status_code == 400
    assert response.json() == {"end_time": ["The end must be after the start."]}


@pytest.mark.parametrize(
    "times, expected",
    [
        ({"kind": "time_off", "start_time": "12:00", "end_time": "11:00"}, {"end_time": ["The end must be after the start."]}),
        ({"kind": "extra_shift"}, {"start_time": ["An extra shift needs a start and an end time."]}),
        ({"kind": "time_off", "start_time": "12:00"}, {"end_time": ["Give both times, or neither for a whole day."]}),
    ],
)
def test_an_availability_exception_breaking_a_rule_is_a_400_on_its_field(world, times, expected):
    body = {"therapist": world.therapist.pk, "date": "2030-01-02", **times}
    response = world.clients["coordinator"].post("/api/v1/availability/exceptions", body, format="json")
    assert response.status_code == 400
    assert response.json() == expected


def test_a_break_whose_latest_start_is_before_its_earliest_is_a_400_on_latest_start(world):
    body = {"therapist": world.therapist.pk, "earliest_start": "13:00", "latest_start": "12:00", "duration_min": 30}
    response = world.clients["coordinator"].post("/api/v1/availability/breaks", body, format="json")
    assert response.status_code == 400
    assert response.json() == {"latest_start": ["The break's latest start (12:00) is before its earliest start (13:00)."]}
    assert not world.therapist.breaks.filter(earliest_start="13:00").exists()


def test_visiting_hours_that_end_before_they_start_are_a_400_on_the_end(world):
    response = world.clients["coordinator"].patch(
        f"/api/v1/facilities/{world.facility_x.pk}",
        {"visiting_hours_start": "20:00", "visiting_hours_end": "09:00"}, format="json",
    )
    assert response.status_code == 400
    assert response.json() == {"visiting_hours_end": ["Visiting hours must end after they start."]}


def test_a_second_facility_of_the_same_name_is_a_400_on_name(world):
    response = world.clients["coordinator"].patch(
        f"/api/v1/facilities/{world.facility_y.pk}", {"name": "Facility X"}, format="json"
    )
    assert response.status_code == 400
    assert response.json() == {"name": ["Your organisation already has a facility named 'Facility X'."]}


def test_deleting_a_patient_with_visits_is_a_409_counting_them(world):
    f.VisitFactory(organization=world.org, patient=world.patient_x)
    response = world.clients["coordinator"].delete(f"/api/v1/patients/{world.patient_x.pk}")
    assert response.status_code == 409
    assert response.json()["detail"].startswith(f"Patient {world.patient_x.pk} still has 2 visits;")


def test_deleting_a_therapist_with_visits_is_a_409_saying_so(world):
    response = world.clients["coordinator"].delete(f"/api/v1/therapists/{world.therapist.pk}")
    assert response.status_code == 409
    assert response.json()["detail"].startswith(f"Therapist {world.therapist.pk} still has 1 visit;")


def test_deleting_a_facility_with_patients_is_a_409_saying_what_depends(world):
    response = world.clients["coordinator"].delete(f"/api/v1/facilities/{world.facility_x.pk}")
    assert response.status_code == 409
    assert response.json()["detail"].startswith(f"Facility {world.facility_x.pk} still has ")


def test_a_replan_for_a_therapist_id_beyond_64_bits_is_a_400_on_therapists(world):
    response = world.clients["coordinator"].post("/api/v1/replan", {"therapists": [HUGE]}, format="json")
    assert response.status_code == 400
    assert "therapists" in response.json()


@pytest.mark.parametrize(("method", "url"), [("put", "/api/v1/visits/{visit}"), ("post", "/api/v1/patients/{patient}")])
def test_a_method_no_role_may_use_is_a_405_not_a_403_about_the_role(world, method, url):
    url = url.format(visit=world.visit_x.pk, patient=world.patient_x.pk)
    response = getattr(world.clients["coordinator"], method)(url, {}, format="json")
    assert response.status_code == 405, response.content
    assert response.json() == {"detail": f'Method "{method.upper()}" not allowed.'}
