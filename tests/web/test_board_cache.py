"""The board's data is served from the cache until something on it changes, and today's until the minute turns."""
from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.test import Client

from dispatch.models import PlanRun, PlanStatus
from dispatch.services.booking import visit_book
from tests import factories as f


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
    # The session and its user, and the request's savepoint and release (ATOMIC_REQUESTS inside the test's
    # transaction); the board's own dozen queries are not run again.
    with django_assert_max_num_queries(4):
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
        assert board.get(f"/board/data?date={day}").json()["kpis"]["late"] == 0
        clock.move_to(f.local(day, "09:11"))  # nothing changed but the time
        assert board.get(f"/board/data?date={day}").json()["kpis"]["late"] == 1


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
    with django_assert_max_num_queries(4):  # the session and its user; the board is not read
        again = board.get(f"/board/data?date={booked.date}", HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304
    visit_book(visit=booked, therapist=therapist, planned_start=f.local(booked.date, "11:00"), by=coordinator)
    moved = board.get(f"/board/data?date={booked.date}", HTTP_IF_NONE_MATCH=first["ETag"])
    assert moved.status_code == 200 and moved["ETag"] != first["ETag"]
