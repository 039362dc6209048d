"""Today's live overlay (/board/live): the marks that move with the clock, beside board data that does not."""
from __future__ import annotations

import datetime as dt

import pytest
from django.core.cache import cache
from django.test import Client

from dispatch.services.booking import visit_book
from dispatch.web import views
from dispatch.web.data import board_marks_part as marks_of
from tests import factories as f
from tests.clients import signed_in

DAY = dt.date(2026, 3, 4)  # a Wednesday
LIVE = f"/board/live?date={DAY}"


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _booked(*, therapist, coordinator, at: str, windows) -> object:
    # At the therapist's door: visits back to back need no travel.
    patient = f.PatientFactory(organization=therapist.organization, lat=therapist.home_lat, lon=therapist.home_lon)
    visit = f.VisitFactory(organization=therapist.organization, patient=patient, date=DAY, windows=windows,
                           duration_min=30)
    return visit_book(visit=visit, therapist=therapist, planned_start=f.local(DAY, at), by=coordinator)


@pytest.fixture
def morning(organization, coordinator, therapist):
    """A therapist's 09:00 visit, then one at 09:40 that must end by 10:15; booked at 07:00, the clock at 09:00."""
    with f.clock_at(f.local(DAY, "07:00")) as clock:
        first = _booked(therapist=therapist, coordinator=coordinator, at="09:00", windows=[("08:00", "17:00")])
        second = _booked(therapist=therapist, coordinator=coordinator, at="09:40", windows=[("09:30", "10:15")])
        clock.move_to(f.local(DAY, "09:00"))  # the sessions signed in from here are fresh for half an hour
        yield first, second, clock


def test_the_overlay_marks_what_is_late_and_at_risk_at_the_clock(coordinator, morning):
    first, second, clock = morning
    board = _client(coordinator)
    clock.move_to(f.local(DAY, "09:05"))
    early = board.get(LIVE).json()
    assert early["marks"] == {} and early["kpis"] == {"late": 0, "at_risk": 0}
    clock.move_to(f.local(DAY, "09:20"))
    live = board.get(LIVE).json()
    assert live["now"] == f.local(DAY, "09:20").isoformat() and live["today"] == live["date"] == str(DAY)
    assert live["marks"][str(first.pk)] == {
        "live": "late", "expected_start": f.local(DAY, "09:20").isoformat(), "late_by_min": 20,
    }
    # Not started at 09:20: the first visit's half hour and its buffer leave no time to end the second by 10:15.
    assert live["marks"][str(second.pk)]["live"] == "at_risk"
    assert live["marks"].keys() == {str(first.pk), str(second.pk)}
    assert live["kpis"] == {"late": 1, "at_risk": 1}
    # The board's data for the day carries neither mark, nor counts for them: they are the overlay's.
    body = board.get(f"/board/data?date={DAY}").json()
    assert [v["live"] for row in body["therapists"] for v in row["visits"]] == [None, None]
    assert body["kpis"]["late"] is None and body["kpis"]["at_risk"] is None


def test_another_day_has_no_marks(coordinator, morning):
    _, _, clock = morning
    clock.move_to(f.local(DAY, "09:20"))
    live = _client(coordinator).get(f"/board/live?date={DAY + dt.timedelta(days=1)}").json()
    assert live["marks"] == {} and live["kpis"] == {"late": 0, "at_risk": 0}


def test_a_check_in_and_a_late_report_move_the_marks_within_the_minute(
    coordinator, therapist, morning, django_capture_on_commit_callbacks
):
    first, second, clock = morning
    board = _client(coordinator)
    clock.move_to(f.local(DAY, "09:05"))
    before = board.get(LIVE)
    assert before.json()["marks"] == {}
    phone = signed_in(therapist.user)
    with django_capture_on_commit_callbacks(execute=True):
        assert phone.post(f"/api/v1/visits/{second.pk}/late", {"minutes": 40}, format="json").status_code == 200
    delayed = board.get(LIVE, HTTP_IF_NONE_MATCH=before["ETag"])
    assert delayed.status_code == 200 and delayed["ETag"] != before["ETag"]
    # 40 minutes late it starts at 10:20, past the end of its window.
    assert delayed.json()["marks"][str(second.pk)] == {
        "live": "at_risk", "expected_start": f.local(DAY, "10:20").isoformat(), "late_by_min": 40,
    }
    clock.move_to(f.local(DAY, "09:20"))
    assert board.get(LIVE).json()["kpis"] == {"late": 1, "at_risk": 1}
    with django_capture_on_commit_callbacks(execute=True):
        assert phone.post(f"/api/v1/visits/{first.pk}/check-in", {}, format="json").status_code == 200
    live = board.get(LIVE).json()
    assert str(first.pk) not in live["marks"] and live["kpis"] == {"late": 0, "at_risk": 1}
    [row] = board.get(f"/board/data?date={DAY}").json()["therapists"]
    assert [v["live"] for v in row["visits"]] == ["checked_in", None]  # from its status, in the board's data


def test_each_user_sees_the_marks_of_the_board_they_may_see(organization, coordinator, therapist, morning):
    first, second, clock = morning
    other_therapist = f.TherapistFactory(organization=organization)
    theirs = _booked(therapist=other_therapist, coordinator=coordinator, at="09:00", windows=[("08:00", "17:00")])
    stranger = f.UserFactory(organization=f.OrganizationFactory())
    clock.move_to(f.local(DAY, "09:20"))
    assert _client(coordinator).get(LIVE).json()["marks"].keys() == {str(first.pk), str(second.pk), str(theirs.pk)}
    assert _client(therapist.user).get(LIVE).json()["marks"].keys() == {str(first.pk), str(second.pk)}
    # Another organisation's coordinator is shown their own day: none of these.
    assert _client(stranger).get(LIVE).json()["marks"] == {}
    staff = f.FacilityStaffFactory(organization=organization, facility=f.FacilityFactory(organization=organization))
    assert _client(staff).get(LIVE).status_code == 403
    anonymous = Client().get(LIVE)
    assert anonymous.status_code == 401 and anonymous.json()["code"] == "not_authenticated"
    assert _client(coordinator).get("/board/live?date=2026-13-01").status_code == 400


def test_the_overlay_is_made_once_a_minute_from_the_cache_and_revalidated(
    coordinator, morning, django_assert_max_num_queries
):
    first, _, clock = morning
    board = _client(coordinator)
    # Half a minute apart across the minute's turn: the session is touched once a minute, not at these reads.
    clock.move_to(f.local(DAY, "09:20") + dt.timedelta(seconds=30))
    # Nothing cached yet: the day's rows in one batch of queries, as the board's data reads them.
    with django_assert_max_num_queries(20):
        made = board.get(LIVE)
    assert made["Cache-Control"] == "private, no-cache"
    with django_assert_max_num_queries(4):  # the session and its user, the request's savepoint and release
        assert board.get(LIVE, HTTP_IF_NONE_MATCH=made["ETag"]).status_code == 304
    clock.move_to(f.local(DAY, "09:21"))
    with django_assert_max_num_queries(4):  # a new minute: made again from what the cache keeps, no row read
        turned = board.get(LIVE, HTTP_IF_NONE_MATCH=made["ETag"])
    assert turned.status_code == 200 and turned["ETag"] != made["ETag"]
    assert turned.json()["marks"][str(first.pk)]["late_by_min"] == 21


def test_a_minute_turning_makes_again_only_the_marks_the_clock_moved(
    organization, coordinator, therapist, morning, monkeypatch
):
    # A second therapist whose only visit is at 11:00: nothing on their day moves with the clock before 11:10.
    other = f.TherapistFactory(organization=organization, user__username="second-therapist")
    later = _booked(therapist=other, coordinator=coordinator, at="11:00", windows=[("10:30", "12:30")])
    first, second, clock = morning
    made = []
    monkeypatch.setattr(views, "board_marks_part", lambda visits, *, now: made.append(visits) or marks_of(visits, now=now))
    board = _client(coordinator)

    clock.move_to(f.local(DAY, "09:05"))
    assert board.get(LIVE).json()["marks"] == {} and len(made) == 2  # the first overlay makes everyone's
    clock.move_to(f.local(DAY, "09:09"))
    assert board.get(LIVE).json()["marks"] == {} and len(made) == 2  # four minutes on: nothing turned, nothing made
    clock.move_to(f.local(DAY, "09:10"))  # the 09:00 visit turns late (10 minutes without a check-in)
    live = board.get(LIVE).json()
    assert live["marks"][str(first.pk)] == {
        "live": "late", "expected_start": f.local(DAY, "09:10").isoformat(), "late_by_min": 10,
    }
    assert len(made) == 3 and all(v.pk != later.pk for v in made[-1])  # the other therapist's marks were kept
    clock.move_to(f.local(DAY, "09:11"))  # a visit late moves each minute: made again, the other's kept
    assert board.get(LIVE).json()["marks"][str(first.pk)]["late_by_min"] == 11
    assert len(made) == 4
    clock.move_to(f.local(DAY, "11:10"))  # the other therapist's visit turns late in its turn
    live = _client(coordinator).get(LIVE).json()  # signed in again: the session idled out
    assert live["marks"][str(later.pk)]["live"] == "late" and live["kpis"]["late"] == 3  # the 09:40 one too
    assert len(made) == 6


def test_marks_kept_across_minutes_say_what_marks_made_now_say(coordinator, morning):
    first, second, clock = morning
    board = _client(coordinator)
    for hhmm in ("08:30", "09:05", "09:09", "09:10", "09:25", "09:40", "10:30"):
        clock.move_to(f.local(DAY, hhmm))
        kept = board.get(LIVE).json()
        cache.clear()
        fresh = board.get(LIVE).json()
        assert kept == fresh, hhmm
