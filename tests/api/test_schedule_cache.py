from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from dispatch.services.booking import visit_book
from tests import factories as f
from tests.clients import signed_in


@pytest.fixture
def booked(organization, coordinator):
    therapist = f.TherapistFactory(organization=organization)
    visit = f.VisitFactory(organization=organization, windows=[("08:00", "16:00")])
    visit_book(visit=visit, therapist=therapist, planned_start=f.local(visit.date, "09:00"), by=coordinator)
    return therapist, visit


def _starts(client, day) -> list[str]:
    body = client.get(f"/api/v1/schedule?date={day}").json()
    return [v["planned_start"] for d in body for v in d["visits"]]


def test_a_repeated_schedule_read_is_served_from_the_cache(coordinator_client, booked):
    _, visit = booked
    _starts(coordinator_client, visit.date)
    with CaptureQueriesContext(connection) as first_again:
        _starts(coordinator_client, visit.date)
    assert len(first_again) == 0  # signed in by force, the versions in the cache: no query, no transaction


@pytest.mark.parametrize("who", ["coordinator", "therapist"])
def test_a_cached_schedule_read_with_a_real_token_reads_no_table(
    who, coordinator, booked, django_assert_num_queries
):
    therapist, visit = booked
    client = signed_in(coordinator if who == "coordinator" else therapist.user)
    url = f"/api/v1/schedule?date={visit.date}"
    first = client.get(url)
    assert first.status_code == 200
    # The token with its user, organisation and therapist kept in the cache (dispatch.credential_cache); no transaction.
    with django_assert_num_queries(0):
        again = client.get(url)
    assert again.content == first.content


def test_a_moved_visit_shows_at_once_on_the_next_read(coordinator_client, coordinator, booked, django_capture_on_commit_callbacks):
    therapist, visit = booked
    before = _starts(coordinator_client, visit.date)
    with django_capture_on_commit_callbacks(execute=True):
        visit_book(visit=visit, therapist=therapist, planned_start=f.local(visit.date, "11:00"), by=coordinator)
    after = _starts(coordinator_client, visit.date)
    assert before != after
    assert dt.datetime.fromisoformat(after[0]) == f.local(visit.date, "11:00")


def test_time_off_shows_at_once_on_the_next_read(coordinator_client, booked):
    from dispatch.models import AvailabilityException

    therapist, visit = booked
    body = coordinator_client.get(f"/api/v1/schedule?date={visit.date}").json()
    assert body[0]["shifts"]
    AvailabilityException.objects.create(therapist=therapist, date=visit.date, kind="time_off")
    body = coordinator_client.get(f"/api/v1/schedule?date={visit.date}").json()
    assert body[0]["shifts"] == []


def test_a_check_in_shows_on_the_next_schedule_read(
    coordinator_client, therapist_client, therapist, django_assert_max_num_queries
):
    from django.utils import timezone

    from tests.feeds.conftest import scheduled_visit

    visit = scheduled_visit(therapist=therapist, start=timezone.now() + dt.timedelta(minutes=30))
    url = f"/api/v1/schedule?date={visit.date}"
    assert coordinator_client.get(url).json()[0]["visits"][0]["status"] == "scheduled"
    with django_assert_max_num_queries(0):  # the versions and the schedule from the cache; no transaction
        coordinator_client.get(url)
    assert therapist_client.post(f"/api/v1/visits/{visit.pk}/check-in", {}, format="json").status_code == 200
    assert coordinator_client.get(url).json()[0]["visits"][0]["status"] == "in_progress"



DAY = dt.date(2026, 3, 4)  # a Wednesday


@pytest.fixture
def three_days(organization, coordinator):
    """Three therapists with a visit each on DAY, the clock at 08:45 that morning."""
    from tests.feeds.conftest import scheduled_visit

    with time_machine.travel(f.local(DAY, "08:45"), tick=False):
        therapists = [f.TherapistFactory(organization=organization) for _ in range(3)]
        visits = [scheduled_visit(therapist=t, start=f.local(DAY, hhmm), windows=[("08:00", "17:00")])
                  for t, hhmm in zip(therapists, ["09:00", "13:00", "15:00"], strict=True)]
        yield therapists, visits


def _names_and_visits(client, day) -> dict[int, tuple[str, list[tuple[int, str]]]]:
    response = client.get(f"/api/v1/schedule?date={day}")
    assert response.status_code == 200
    return {d["therapist"]: (d["display_name"], [(v["id"], v["status"]) for v in d["visits"]]) for d in response.json()}


def test_a_check_in_rebuilds_only_its_therapists_part_of_the_schedule(
    coordinator_client, three_days, django_capture_on_commit_callbacks
):
    (a, b, c), (visit, *_) = three_days
    before = _names_and_visits(coordinator_client, DAY)
    f.rename_unseen([a, b, c])
    with django_capture_on_commit_callbacks(execute=True):
        assert signed_in(a.user).post(f"/api/v1/visits/{visit.pk}/check-in", {}, format="json").status_code == 200
    with CaptureQueriesContext(connection) as read:
        after = _names_and_visits(coordinator_client, DAY)
    assert after[a.pk] == ("Renamed unseen", [(visit.pk, "in_progress")])  # built again, and no stale read
    assert after[b.pk] == before[b.pk] and after[c.pk] == before[c.pk]  # from the cache
    # One batch for the one part: its visits, the therapist and their availability (2); and the request's savepoint.
    visit_queries = [q["sql"] for q in read.captured_queries if 'FROM "dispatch_visit"' in q["sql"]]
    assert len(visit_queries) == 1 and len(read) <= 6


def test_a_visit_moved_to_another_therapist_leaves_one_part_and_joins_the_other(
    coordinator_client, three_days, django_capture_on_commit_callbacks
):
    (a, b, c), (visit, b_visit, _) = three_days
    before = _names_and_visits(coordinator_client, DAY)
    f.rename_unseen([a, b, c])
    with django_capture_on_commit_callbacks(execute=True):
        moved = coordinator_client.patch(f"/api/v1/visits/{visit.pk}", {"therapist": b.pk}, format="json")
    assert moved.status_code == 200, moved.json()
    after = _names_and_visits(coordinator_client, DAY)
    assert after[a.pk] == ("Renamed unseen", [])
    assert after[b.pk] == ("Renamed unseen", [(visit.pk, "scheduled"), (b_visit.pk, "scheduled")])
    assert after[c.pk] == before[c.pk]


def test_a_visit_moved_to_another_day_leaves_one_days_part_and_joins_the_others(
    coordinator_client, three_days, django_capture_on_commit_callbacks
):
    (a, b, c), (visit, *_) = three_days
    next_day = DAY + dt.timedelta(days=1)
    before = _names_and_visits(coordinator_client, DAY)
    assert _names_and_visits(coordinator_client, next_day)[a.pk][1] == []
    with django_capture_on_commit_callbacks(execute=True):
        moved = coordinator_client.patch(f"/api/v1/visits/{visit.pk}", {
            "date": str(next_day), "planned_start": f.local(next_day, "10:00").isoformat(),
            "windows": [{"start": f.local(next_day, "09:00").isoformat(), "end": f.local(next_day, "12:00").isoformat()}],
        }, format="json")
    assert moved.status_code == 200, moved.json()
    assert _names_and_visits(coordinator_client, DAY)[a.pk][1] == []
    assert _names_and_visits(coordinator_client, next_day)[a.pk][1] == [(visit.pk, "scheduled")]
    assert _names_and_visits(coordinator_client, DAY)[b.pk] == before[b.pk]


def test_a_new_plan_leaves_the_cached_schedule_alone(coordinator_client, organization, three_days):
    from dispatch.models import PlanRun, PlanStatus

    therapists, _ = three_days
    before = _names_and_visits(coordinator_client, DAY)
    f.rename_unseen(therapists)
    PlanRun.objects.create(organization=organization, date=DAY, status=PlanStatus.SUCCEEDED,
                           result={"routes": [], "unassigned": []})
    assert _names_and_visits(coordinator_client, DAY) == before  # a schedule shows no plan: nothing built again


def test_an_unchanged_schedule_revalidated_is_a_304_without_its_body_until_a_change(
    coordinator, therapist, organization, django_assert_num_queries, monkeypatch
):
    from django.core.cache import cache
    from django.utils import timezone

    from tests.feeds.conftest import scheduled_visit

    visit = scheduled_visit(therapist=therapist, start=timezone.now() + dt.timedelta(minutes=30))
    client = signed_in(coordinator)
    url = f"/api/v1/schedule?date={visit.date}"
    first = client.get(url)
    assert first.status_code == 200 and first["Cache-Control"] == "private, no-cache"
    read = []
    get = cache.get
    monkeypatch.setattr(cache, "get", lambda key, *a, **kw: read.append(key) or get(key, *a, **kw))
    with django_assert_num_queries(0):  # the token with its user from the cache
        again = client.get(url, HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304 and again["ETag"] == first["ETag"] and again.content == b""
    assert not [key for key in read if key.startswith("schedule:")]  # the body was not read
    monkeypatch.undo()
    # A therapist's own schedule is another content: another ETag.
    own = signed_in(therapist.user).get(url, HTTP_IF_NONE_MATCH=first["ETag"])
    assert own.status_code == 200 and own["ETag"] != first["ETag"]
    assert signed_in(therapist.user).post(f"/api/v1/visits/{visit.pk}/check-in", {}, format="json").status_code == 200
    moved = client.get(url, HTTP_IF_NONE_MATCH=first["ETag"])
    assert moved.status_code == 200 and moved["ETag"] != first["ETag"]
    assert moved.json()[0]["visits"][0]["status"] == "in_progress"
