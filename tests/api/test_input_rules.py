"""Input that passed validation but made no sense: each is a 400 on the field it concerns."""
from __future__ import annotations

import datetime as dt

import pytest

from dispatch.models import AvailabilityException, WeeklyAvailability
from tests import factories as f


@pytest.fixture
def shift(world):
    world.therapist.weekly_availability.all().delete()  # the factory's Monday-to-Friday pattern
    return WeeklyAvailability.objects.create(
        therapist=world.therapist, weekday=0, start_time="09:00", end_time="17:00"
    )


@pytest.mark.parametrize("start, end", [("09:00", "17:00"), ("16:00", "18:00"), ("08:00", "10:00"), ("10:00", "11:00")])
def test_a_weekly_shift_overlapping_another_of_the_same_therapist_and_day_is_a_400(world, shift, start, end):
    body = {"therapist": world.therapist.pk, "weekday": 0, "start_time": start, "end_time": end}
    response = world.clients["coordinator"].post("/api/v1/availability/weekly", body, format="json")
    assert response.status_code == 400, response.content
    assert "Overlaps this therapist's Monday shift 09:00-17:00" in response.json()["start_time"][0]


def test_a_weekly_shift_next_to_another_or_on_another_day_is_created(world, shift):
    client = world.clients["coordinator"]
    for body in ({"weekday": 0, "start_time": "17:00", "end_time": "19:00"},
                 {"weekday": 1, "start_time": "09:00", "end_time": "17:00"}):
        response = client.post("/api/v1/availability/weekly", {"therapist": world.therapist.pk, **body}, format="json")
        assert response.status_code == 201, response.content


def test_moving_a_weekly_shift_within_its_own_hours_is_no_overlap(world, shift):
    response = world.clients["coordinator"].patch(
        f"/api/v1/availability/weekly/{shift.pk}", {"end_time": "16:00"}, format="json"
    )
    assert response.status_code == 200, response.content


def test_an_availability_exception_in_1900_is_a_400_on_date(world):
    body = {"therapist": world.therapist.pk, "date": "1900-12-03", "kind": "time_off"}
    response = world.clients["coordinator"].post("/api/v1/availability/exceptions", body, format="json")
    assert response.status_code == 400
    assert response.json() == {"date": ["Give a date between 2000-01-01 and 2099-12-31."]}
    assert not AvailabilityException.objects.exists()


@pytest.mark.parametrize("born", ["2999-01-01", "1899-12-31"])
def test_a_date_of_birth_in_the_future_or_before_1900_is_a_400(world, born):
    response = world.clients["coordinator"].patch(
        f"/api/v1/patients/{world.patient_x.pk}", {"date_of_birth": born}, format="json"
    )
    assert response.status_code == 400
    assert "between 1900-01-01 and today" in response.json()["date_of_birth"][0]


def test_a_therapist_both_preferred_and_excluded_is_a_400(world):
    pk = world.therapist.pk
    client = world.clients["coordinator"]
    response = client.patch(
        f"/api/v1/patients/{world.patient_x.pk}", {"preferred_therapists": [pk], "excluded_therapists": [pk]},
        format="json",
    )
    assert response.status_code == 400
    assert f"Therapist {pk} cannot be both preferred and excluded" in response.json()["excluded_therapists"][0]
    # One list at a time, against the other on record.
    assert client.patch(f"/api/v1/patients/{world.patient_x.pk}", {"preferred_therapists": [pk]}, format="json"
                        ).status_code == 200
    response = client.patch(f"/api/v1/patients/{world.patient_x.pk}", {"excluded_therapists": [pk]}, format="json")
    assert response.status_code == 400 and "excluded_therapists" in response.json()


def test_a_username_differing_only_by_case_is_a_400(world):
    f.TherapistFactory(organization=world.org, user__username="therapist1")
    body = {"username": "Therapist1", "display_name": "T", "home_address": "1 King St W", "home_lat": 43.65,
            "home_lon": -79.38}
    response = world.clients["coordinator"].post("/api/v1/therapists", body, format="json")
    assert response.status_code == 400
    assert "already exists" in response.json()["username"][0]


def test_quiet_hours_that_end_when_they_start_are_a_400(world):
    response = world.clients["coordinator"].patch(
        "/api/v1/me/notification-preferences", {"quiet_start": "22:00", "quiet_end": "22:00"}, format="json"
    )
    assert response.status_code == 400 and "quiet_end" in response.json()


def _series(w, **overrides):
    return {
        "patient": w.patient_x.pk, "weekdays": [6], "window_start": "10:00", "window_end": "12:00",
        "duration_min": 45, "starts_on": "2027-03-07", "ends_on": "2027-03-21",
    } | overrides


def test_a_series_window_with_a_utc_offset_is_a_400(world):
    response = world.clients["coordinator"].post(
        "/api/v1/visit-series", _series(world, window_start="10:00:00+05:00"), format="json"
    )
    assert response.status_code == 400
    assert "without a UTC offset" in response.json()["window_start"][0]


def test_a_series_window_in_the_spring_forward_gap_is_a_400_naming_the_day(world):
    world.org.timezone = "America/Toronto"
    world.org.save()
    response = world.clients["coordinator"].post(
        "/api/v1/visit-series", _series(world, window_start="02:00", window_end="02:45"), format="json"
    )
    assert response.status_code == 400, response.content
    body = response.json()
    assert set(body) == {"window_start", "window_end"}
    assert "02:45 does not exist on 2027-03-14" in body["window_end"][0]
    assert "02:00 does not exist on 2027-03-14 in America/Toronto" in body["window_start"][0]


def test_a_visit_request_outside_the_facilitys_visiting_hours_is_a_400_on_windows(world):
    world.facility_x.visiting_hours_start, world.facility_x.visiting_hours_end = "09:00", "20:00"
    world.facility_x.save()
    day = world.visit_x.date
    late = [{"start": f.local(day, "23:00").isoformat(), "end": f.local(day + dt.timedelta(days=1), "00:00").isoformat()}]
    body = {"patient": world.patient_x.pk, "date": day.isoformat(), "duration_min": 45, "windows": late}
    response = world.clients["staff_x"].post("/api/v1/visits", body, format="json")
    assert response.status_code == 400, response.content
    assert "outside Facility X's visiting hours 09:00-20:00" in response.json()["windows"][0]
    body["windows"] = [{"start": f.local(day, "13:00").isoformat(), "end": f.local(day, "16:00").isoformat()}]
    assert world.clients["staff_x"].post("/api/v1/visits", body, format="json").status_code == 201
