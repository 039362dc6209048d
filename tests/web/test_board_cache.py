"""The board's data is served from the cache until something on it changes, and today's until the minute turns."""
from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from dispatch.models import PlanRun, PlanStatus
from dispatch.services.booking import visit_book
from tests import factories as f
from tests.clients import PASSWORD, signed_in


@pytest.fixture
def board(coordinator) -> Client:
    client = Client()
    client.force_login(coordinator)
    return client


@pytest.fixture
def booked(organization, coordinator, therapist):
    visit = f.VisitFactory(organization=organization, windows=[("08:00", "16:00")])
    return visit_book(visit=visit, therapist=therapist, planned_start=f.local(visit.date, "09:00"), by=coordinator)


def _starts(client: Client, day: dt.date) -> list[str]:
    body = client.get(f"/board/data?date={day}").json()
    return [v["start"] for row in body["therapists"] for v in row["visits"]]


def test_a_repeated_board_read_is_served_from_the_cache(board, booked, django_assert_max_num_queries):
    _starts(board, booked.date)
    # The user (the session is in the cache, and a read from the cache opens no transaction); the board's own
    # dozen queries are not run again.
    with django_assert_max_num_queries(1):
        assert _starts(board, booked.date) == [f.local(booked.date, "09:00").isoformat()]


def test_a_moved_visit_shows_on_the_next_board_read(board, coordinator, therapist, booked):
    assert _starts(board, booked.date) == [f.local(booked.date, "09:00").isoformat()]
    visit_book(visit=booked, therapist=therapist, planned_start=f.local(booked.date, "11:00"), by=coordinator)
    assert _starts(board, booked.date) == [f.local(booked.date, "11:00").isoformat()]


def test_a_new_plan_shows_as_pending_on_the_next_board_read(board, organization, booked):
    assert board.get(f"/board/data?date={booked.date}").json()["pending_plan"] is None
    run = PlanRun.objects.create(organization=organization, date=booked.date, status=PlanStatus.SUCCEEDED,
                                 result={"routes": [], "unassigned": []})
    assert board.get(f"/board/data?date={booked.date}").json()["pending_plan"]["id"] == run.pk


def test_todays_board_marks_a_visit_late_once_the_clock_passes_the_limit(board, organization, coordinator, therapist):
    day = dt.date(2026, 3, 4)  # a Wednesday
    visit = f.VisitFactory(organization=organization, date=day, windows=[("08:00", "16:00")])
    with time_machine.travel(f.local(day, "07:00"), tick=False) as clock:
        visit_book(visit=visit, therapist=therapist, planned_start=f.local(day, "09:00"), by=coordinator)
        clock.move_to(f.local(day, "09:05"))
        assert board.get(f"/board/live?date={day}").json()["kpis"]["late"] == 0
        clock.move_to(f.local(day, "09:11"))  # nothing changed but the time
        assert board.get(f"/board/live?date={day}").json()["kpis"]["late"] == 1


def test_a_running_plans_progress_keeps_the_cached_board(board, organization, booked, django_assert_max_num_queries):
    run = PlanRun.objects.create(organization=organization, date=booked.date, status=PlanStatus.RUNNING)
    board.get(f"/board/data?date={booked.date}")
    run.progress = {"best_visits": 3}
    run.save(update_fields=["progress"])
    with django_assert_max_num_queries(4):  # as a cached read: the board is not built again
        board.get(f"/board/data?date={booked.date}")


def test_reloading_another_days_board_is_a_304_until_it_changes(
    board, coordinator, therapist, booked, django_assert_max_num_queries
):
    first = board.get(f"/board/data?date={booked.date}")
    assert first["Cache-Control"] == "private, no-cache"
    with django_assert_max_num_queries(1):  # the user; the session from the cache, the board not read
        again = board.get(f"/board/data?date={booked.date}", HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304
    visit_book(visit=booked, therapist=therapist, planned_start=f.local(booked.date, "11:00"), by=coordinator)
    moved = board.get(f"/board/data?date={booked.date}", HTTP_IF_NONE_MATCH=first["ETag"])
    assert moved.status_code == 200 and moved["ETag"] != first["ETag"]


DAY = dt.date(2026, 3, 4)  # a Wednesday


@pytest.fixture
def three_rows(organization):
    """Three therapists with a visit each on DAY, the clock at 08:45 that morning."""
    from tests.feeds.conftest import scheduled_visit

    with time_machine.travel(f.local(DAY, "08:45"), tick=False) as clock:
        therapists = [f.TherapistFactory(organization=organization) for _ in range(3)]
        visits = [scheduled_visit(therapist=t, start=f.local(DAY, hhmm), windows=[("08:00", "17:00")])
                  for t, hhmm in zip(therapists, ["09:00", "13:00", "15:00"], strict=True)]
        yield therapists, visits, clock


def _rows(client: Client, day: dt.date) -> dict[int, tuple[str, list[tuple[int, str, str | None]]]]:
    body = client.get(f"/board/data?date={day}").json()
    return {row["id"]: (row["name"], [(v["id"], v["status"], v["live"]) for v in row["visits"]])
            for row in body["therapists"]}


def test_a_check_in_rebuilds_only_its_therapists_row_of_the_board(
    board, three_rows, django_capture_on_commit_callbacks
):
    (a, b, c), (visit, *_), _ = three_rows
    before = _rows(board, DAY)
    f.rename_unseen([a, b, c])
    with django_capture_on_commit_callbacks(execute=True):
        assert signed_in(a.user).post(f"/api/v1/visits/{visit.pk}/check-in", {}, format="json").status_code == 200
    with CaptureQueriesContext(connection) as read:
        after = _rows(board, DAY)
    assert after[a.pk] == ("Renamed unseen", [(visit.pk, "in_progress", "checked_in")])  # no stale read
    assert after[b.pk] == before[b.pk] and after[c.pk] == before[c.pk]  # from the cache
    # One batch for the one row (the day's applied plan for its breaks, the therapist with availability and
    # breaks, the visits with windows and skills); the open requests come from the cache; the session's two.
    visit_queries = [q["sql"] for q in read.captured_queries if 'FROM "dispatch_visit"' in q["sql"]]
    assert len(visit_queries) == 1 and len(read) <= 12


def test_a_visit_moved_to_another_therapist_or_day_moves_on_the_board_at_once(
    board, coordinator_client, three_rows, django_capture_on_commit_callbacks
):
    (a, b, c), (visit, b_visit, _), _ = three_rows
    next_day = DAY + dt.timedelta(days=1)
    before = _rows(board, DAY)
    assert _rows(board, next_day)[a.pk][1] == []
    f.rename_unseen([a, b, c])
    with django_capture_on_commit_callbacks(execute=True):
        assert coordinator_client.patch(f"/api/v1/visits/{visit.pk}", {"therapist": b.pk},
                                        format="json").status_code == 200
    after = _rows(board, DAY)
    assert after[a.pk] == ("Renamed unseen", [])
    assert after[b.pk] == ("Renamed unseen", [(visit.pk, "scheduled", None), (b_visit.pk, "scheduled", None)])
    assert after[c.pk] == before[c.pk]
    with django_capture_on_commit_callbacks(execute=True):
        moved = coordinator_client.patch(f"/api/v1/visits/{visit.pk}", {
            "date": str(next_day), "planned_start": f.local(next_day, "10:00").isoformat(),
            "windows": [{"start": f.local(next_day, "09:00").isoformat(), "end": f.local(next_day, "12:00").isoformat()}],
        }, format="json")
    assert moved.status_code == 200, moved.json()
    assert _rows(board, DAY)[b.pk][1] == [(b_visit.pk, "scheduled", None)]
    assert _rows(board, next_day)[b.pk][1] == [(visit.pk, "scheduled", None)]


def test_a_new_request_rebuilds_only_the_open_requests(board, organization, three_rows):
    (a, b, c), _, _ = three_rows
    patient = f.PatientFactory(organization=organization)  # a patient's record moves every part
    assert board.get(f"/board/data?date={DAY}").json()["unassigned"] == []
    f.rename_unseen([a, b, c])
    request = f.VisitFactory(organization=organization, patient=patient, date=DAY, windows=[("10:00", "12:00")])
    body = board.get(f"/board/data?date={DAY}").json()
    assert [v["id"] for v in body["unassigned"]] == [request.pk]
    assert "Renamed unseen" not in {row["name"] for row in body["therapists"]}


def test_the_minute_turning_marks_today_late_without_building_a_row(
    board, three_rows, django_assert_max_num_queries
):
    (a, *_), (visit, *_), clock = three_rows
    assert _rows(board, DAY)[a.pk][1] == [(visit.pk, "scheduled", None)]
    assert board.get(f"/board/live?date={DAY}").json()["marks"] == {}
    clock.move_to(f.local(DAY, "09:11"))
    with django_assert_max_num_queries(4):  # the session and its user, the request's savepoint and release
        marks = board.get(f"/board/live?date={DAY}").json()["marks"]
    assert marks[str(visit.pk)]["live"] == "late"


def test_todays_board_data_is_a_304_across_a_minutes_turn_until_something_on_it_changes(
    board, three_rows, django_assert_max_num_queries, django_capture_on_commit_callbacks
):
    (a, *_), (visit, *_), clock = three_rows
    first = board.get(f"/board/data?date={DAY}")
    assert first["Cache-Control"] == "private, no-cache"
    clock.move_to(f.local(DAY, "09:11"))  # the visit is late now: the overlay says so, the data is the same
    with django_assert_max_num_queries(1):  # the user; the session from the cache, the board not read
        again = board.get(f"/board/data?date={DAY}", HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304
    with django_capture_on_commit_callbacks(execute=True):
        assert signed_in(a.user).post(f"/api/v1/visits/{visit.pk}/check-in", {}, format="json").status_code == 200
    checked_in = board.get(f"/board/data?date={DAY}", HTTP_IF_NONE_MATCH=first["ETag"])
    assert checked_in.status_code == 200 and checked_in["ETag"] != first["ETag"]
    assert _rows(board, DAY)[a.pk][1] == [(visit.pk, "in_progress", "checked_in")]


def test_a_new_plan_shows_as_pending_without_building_a_row(board, organization, three_rows):
    (a, b, c), _, _ = three_rows
    assert board.get(f"/board/data?date={DAY}").json()["pending_plan"] is None
    f.rename_unseen([a, b, c])
    # As a late report's re-plan leaves one: the board's rows hold no plan until one is applied.
    run = PlanRun.objects.create(organization=organization, date=DAY, status=PlanStatus.SUCCEEDED,
                                 result={"routes": [], "unassigned": []})
    body = board.get(f"/board/data?date={DAY}").json()
    assert body["pending_plan"]["id"] == run.pk
    assert "Renamed unseen" not in {row["name"] for row in body["therapists"]}


def test_an_open_boards_reloads_are_304s_that_read_no_table(
    organization, coordinator, booked, django_assert_num_queries
):
    client = Client()
    assert client.post("/accounts/login/", {"username": coordinator.username, "password": PASSWORD}).status_code == 302
    from django.utils import timezone

    today = timezone.localdate(timezone=organization.tz)
    for path in (f"/board/data?date={booked.date}", f"/board/live?date={today}"):
        first = client.get(path)
        assert first.status_code == 200
        # The session and its user (with organisation and therapist) from the cache, believed while the
        # organisation's access versions stand, so a switched-off account is still refused at once
        # (tests/security/test_credential_cache.py).
        with django_assert_num_queries(0):
            assert client.get(path, HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 304
