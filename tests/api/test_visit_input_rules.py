"""Input that could never be served is refused with a 400 naming the field, on create, change and series."""
from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.utils import timezone

from dispatch.models import Visit, VisitSeries
from tests.factories import local


def _window(day, start, end):
    return {"start": local(day, start).isoformat(), "end": local(day, end).isoformat()}


def _body(w, *windows, **overrides):
    day = w.visit_x.date
    body = {
        "patient": w.patient_x.pk,
        "date": day.isoformat(),
        "duration_min": 45,
        "windows": list(windows) or [_window(day, "13:00", "16:00")],
    }
    return body | overrides


@pytest.mark.parametrize(
    ("windows", "message"),
    [
        ((("09:00", "11:00"), ("10:00", "12:00")), "Windows 1 and 2 overlap"),
        ((("14:00", "16:00"), ("09:00", "11:00"), ("10:30", "12:00")), "Windows 2 and 3 overlap"),
        ((("09:00", "11:00"), ("09:00", "11:00")), "Windows 1 and 2 are the same"),
    ],
)
def test_overlapping_or_duplicate_windows_are_refused_naming_windows(world, windows, message):
    day = world.visit_x.date
    body = _body(world, *(_window(day, s, e) for s, e in windows))
    before = Visit.objects.count()

    response = world.clients["staff_x"].post("/api/v1/visits", body, format="json")

    assert response.status_code == 400
    assert any(error.startswith(message) for error in response.json()["windows"]), response.json()
    assert Visit.objects.count() == before


def test_windows_that_touch_are_accepted(world):
    day = world.visit_x.date
    body = _body(world, _window(day, "09:00", "10:00"), _window(day, "10:00", "11:00"))

    assert world.clients["staff_x"].post("/api/v1/visits", body, format="json").status_code == 201


def test_at_most_eight_windows(world):
    day = world.visit_x.date
    nine = [_window(day, f"{h:02}:00", f"{h:02}:50") for h in range(8, 17)]

    refused = world.clients["staff_x"].post("/api/v1/visits", _body(world, *nine), format="json")
    accepted = world.clients["staff_x"].post("/api/v1/visits", _body(world, *nine[:8]), format="json")

    assert refused.status_code == 400 and "no more than 8" in refused.json()["windows"]["non_field_errors"][0]
    assert accepted.status_code == 201, accepted.json()


def test_a_window_shorter_than_the_session_is_refused_naming_windows(world):
    day = world.visit_x.date
    body = _body(world, _window(day, "09:00", "09:30"), duration_min=45)

    response = world.clients["staff_x"].post("/api/v1/visits", body, format="json")

    assert response.status_code == 400
    assert response.json()["windows"] == [
        f"Window 1 ({local(day, '09:00').isoformat()} to {local(day, '09:30').isoformat()}) lasts 30 min; "
        "the session needs 45 min."
    ]


def test_a_window_exactly_as_long_as_the_session_is_accepted(world):
    day = world.visit_x.date
    body = _body(world, _window(day, "09:00", "09:45"), duration_min=45)

    assert world.clients["staff_x"].post("/api/v1/visits", body, format="json").status_code == 201


def test_facility_staff_cannot_request_a_past_day_but_coordinators_may_record_one(world):
    yesterday = timezone.localdate(timezone=world.org.tz) - dt.timedelta(days=1)
    body = _body(world, _window(yesterday, "09:00", "12:00"), date=yesterday.isoformat())

    refused = world.clients["staff_x"].post("/api/v1/visits", body, format="json")
    recorded = world.clients["coordinator"].post("/api/v1/visits", body, format="json")

    assert refused.status_code == 400
    assert refused.json() == {"date": [f"{yesterday} has passed in America/Toronto; a visit can be requested for today or later."]}
    assert recorded.status_code == 201


def test_today_is_not_the_past(world):
    today = timezone.localdate(timezone=world.org.tz)
    body = _body(world, _window(today, "00:00", "23:59"), date=today.isoformat())

    with time_machine.travel(local(today, "12:00"), tick=False):  # a window still to come, at any hour the run has
        assert world.clients["staff_x"].post("/api/v1/visits", body, format="json").status_code == 201


def test_facility_staff_cannot_request_today_in_windows_already_over(world):
    tomorrow = timezone.localdate(timezone=world.org.tz) + dt.timedelta(days=1)
    over = _body(world, _window(tomorrow, "09:00", "12:00"), date=tomorrow.isoformat())
    too_little_left = _body(world, _window(tomorrow, "14:00", "15:30"), date=tomorrow.isoformat())
    room_left = _body(world, _window(tomorrow, "09:00", "12:00"), _window(tomorrow, "14:00", "16:00"),
                      date=tomorrow.isoformat())
    before = Visit.objects.count()

    # The request page's default window, sent in the afternoon of the same day.
    with time_machine.travel(local(tomorrow, "15:00"), tick=False):
        refused = [world.clients["staff_x"].post("/api/v1/visits", b, format="json") for b in (over, too_little_left)]
        assert Visit.objects.count() == before
        accepted = world.clients["staff_x"].post("/api/v1/visits", room_left, format="json")
        recorded = world.clients["coordinator"].post("/api/v1/visits", over, format="json")
        moved_back = world.clients["staff_x"].patch(
            f"/api/v1/visits/{accepted.json()['id']}", {"windows": over["windows"]}, format="json"
        )

    message = (f"It is 15:00 on {tomorrow} in America/Toronto: no window leaves room for the 45-minute session any "
               "more; give a window still to come.")
    assert [(r.status_code, r.json()) for r in refused] == [(400, {"windows": [message]})] * 2
    assert accepted.status_code == 201, accepted.json()
    assert recorded.status_code == 201, recorded.json()
    assert (moved_back.status_code, moved_back.json()) == (400, {"windows": [message]})
    assert len(Visit.objects.get(pk=accepted.json()["id"]).windows.all()) == 2


@pytest.mark.parametrize("field", ["start", "end"])
def test_a_window_time_without_an_offset_is_refused_not_read_as_local(world, field):
    day = world.visit_x.date
    window = _window(day, "13:00", "16:00")
    window[field] = f"{day}T{'13' if field == 'start' else '16'}:00:00"

    response = world.clients["staff_x"].post("/api/v1/visits", _body(world, window), format="json")

    assert response.status_code == 400
    assert "has none" in response.json()["windows"]["0"][field][0]


def test_a_planned_start_without_an_offset_is_refused(world):
    response = world.clients["coordinator"].post(
        f"/api/v1/visits/{world.visit_y.pk}/assign",
        {"therapist": world.therapist.pk, "planned_start": f"{world.visit_y.date}T13:00"},
        format="json",
    )

    assert response.status_code == 400 and "UTC offset" in response.json()["planned_start"][0]


def test_a_change_is_held_to_the_same_window_rules(world):
    day = world.visit_y.date
    client = world.clients["staff_y"]
    overlapping = [_window(day, "09:00", "11:00"), _window(day, "10:30", "12:00")]

    windows = client.patch(f"/api/v1/visits/{world.visit_y.pk}", {"windows": overlapping}, format="json")
    narrowed = client.patch(
        f"/api/v1/visits/{world.visit_y.pk}", {"windows": [_window(day, "09:00", "09:40")]}, format="json"
    )
    longer = client.patch(f"/api/v1/visits/{world.visit_y.pk}", {"duration_min": 45}, format="json")
    yesterday = (timezone.localdate(timezone=world.org.tz) - dt.timedelta(days=1)).isoformat()
    past = client.patch(f"/api/v1/visits/{world.visit_y.pk}", {"date": yesterday}, format="json")
    naive = client.patch(
        f"/api/v1/visits/{world.visit_y.pk}",
        {"windows": [{"start": f"{day}T09:00:00", "end": f"{day}T12:00:00"}]}, format="json",
    )

    assert windows.status_code == 400 and "Windows 1 and 2 overlap" in windows.json()["windows"][0]
    assert narrowed.status_code == 200, narrowed.json()
    assert longer.status_code == 400 and "lasts 40 min; the session needs 45 min" in longer.json()["windows"][0]
    assert past.status_code == 400 and "has passed" in past.json()["date"][0]
    assert naive.status_code == 400 and "has none" in naive.json()["windows"]["0"]["start"][0]
    visit = Visit.objects.get(pk=world.visit_y.pk)
    assert visit.duration_min == 30 and [(w.start, w.end) for w in visit.windows.all()] == [
        (local(day, "09:00"), local(day, "09:40"))
    ]


class TestSeries:
    def _body(self, w, **overrides):
        start = timezone.localdate(timezone=w.org.tz) + dt.timedelta(days=7)
        body = {
            "patient": w.patient_x.pk, "weekdays": [0, 3], "window_start": "09:00", "window_end": "12:00",
            "duration_min": 60, "starts_on": start.isoformat(), "ends_on": (start + dt.timedelta(weeks=2)).isoformat(),
        }
        return body | overrides

    def test_a_series_window_shorter_than_the_session_is_refused_naming_window_end(self, world):
        response = world.clients["staff_x"].post(
            "/api/v1/visit-series", self._body(world, window_end="09:30"), format="json"
        )

        assert response.status_code == 400
        assert response.json() == {"window_end": ["The window 09:00–09:30 lasts 30 min; the session needs 60 min."]}
        assert not VisitSeries.objects.exists()

    def test_a_series_window_may_end_at_midnight_as_a_single_visits_may(self, world):
        body = self._body(world, patient=world.patient_home.pk, window_start="20:00", window_end="00:00")
        response = world.clients["coordinator"].post("/api/v1/visit-series", body, format="json")

        assert response.status_code == 201, response.json()
        series = VisitSeries.objects.get()
        tz = world.org.tz
        windows = [(w.start.astimezone(tz), w.end.astimezone(tz)) for v in series.visits.all() for w in v.windows.all()]
        first = dt.date.fromisoformat(body["starts_on"])
        assert len(windows) == sum((first + dt.timedelta(n)).weekday() in (0, 3) for n in range(15)) > 0
        for start, end in windows:
            assert (start.time(), end.time()) == (dt.time(20), dt.time(0)) and end.date() == start.date() + dt.timedelta(1)
        backwards = world.clients["coordinator"].post(
            "/api/v1/visit-series", self._body(world, window_start="00:00", window_end="00:00"), format="json"
        )
        assert backwards.status_code == 400 and list(backwards.json()) == ["window_end"]

    @pytest.mark.parametrize("start, end, field", [("06:00", "07:30", "window_start"), ("16:00", "19:00", "window_end")])
    def test_a_series_outside_the_facilitys_visiting_hours_is_refused_on_its_own_field(self, world, start, end, field):
        world.facility_x.visiting_hours_start, world.facility_x.visiting_hours_end = dt.time(9), dt.time(17)
        world.facility_x.save()
        response = world.clients["staff_x"].post(
            "/api/v1/visit-series", self._body(world, window_start=start, window_end=end), format="json"
        )

        assert response.status_code == 400
        assert list(response.json()) == [field]
        assert "outside Facility X's visiting hours 09:00-17:00" in response.json()[field][0]
        assert not VisitSeries.objects.exists()

    def test_facility_staff_cannot_start_a_series_in_the_past(self, world):
        start = timezone.localdate(timezone=world.org.tz) - dt.timedelta(days=3)

        response = world.clients["staff_x"].post(
            "/api/v1/visit-series", self._body(world, starts_on=start.isoformat()), format="json"
        )

        assert response.status_code == 400 and "has passed" in response.json()["starts_on"][0]
