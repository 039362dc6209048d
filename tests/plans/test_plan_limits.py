"""Plan runs are bounded: one day plan per day at a time, a few days at once, one re-plan per organisation;
a run whose worker was lost is marked failed after the optimiser's wall cap for its time limit plus a margin,
and the day can be planned again.

Runs are started through POST /api/v1/plans with in-process threads: inside a test's transaction the
thread only starts on commit, so a started run stays queued for as long as the test needs it to.
"""
from __future__ import annotations

import datetime as dt

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from dispatch import models as m
from dispatch.services.booking import visit_book
from dispatch.services.plans import NOT_FINISHED_IN_TIME
from tests import factories as f

CAP_OF_1_S = 3  # the optimiser's wall cap for the 1 s these runs ask for (Options.WALL_CAP_FACTOR)


@pytest.fixture
def queued_runs(settings):
    settings.ROUNDS_PLAN_IN_PROCESS = "thread"


def _plan(client, day, **extra):
    return client.post("/api/v1/plans", {"date": str(day), "time_limit_s": 1, **extra}, format="json")


def test_a_second_plan_for_a_day_being_planned_is_a_409_naming_the_first(coordinator_client, small_day, queued_runs):
    day, _, _ = small_day
    first = _plan(coordinator_client, day)
    assert first.status_code == 202 and first.data["status"] == "queued"
    second = _plan(coordinator_client, day, seed=3)
    assert second.status_code == 409
    body = second.json()
    assert body["code"] == "plan_running"
    assert body["extra"]["plan"] == first.data["id"]
    assert body["extra"]["url"] == first.data["url"]
    assert str(first.data["id"]) in body["detail"]
    m.PlanRun.objects.filter(pk=first.data["id"]).update(status=m.PlanStatus.RUNNING, started_at=timezone.now())
    assert _plan(coordinator_client, day).status_code == 409
    assert m.PlanRun.objects.filter(date=day).count() == 1


def test_once_the_first_plan_finished_the_day_can_be_planned_again(coordinator_client, small_day):
    day, _, _ = small_day
    assert _plan(coordinator_client, day).data["status"] == "succeeded"
    assert _plan(coordinator_client, day).status_code == 202


def test_other_days_may_be_planned_meanwhile_up_to_the_organisations_limit(
    coordinator_client, small_day, queued_runs, settings
):
    day, _, _ = small_day
    limit = settings.ROUNDS_PLAN_MAX_RUNNING
    started = [_plan(coordinator_client, day + dt.timedelta(days=n)) for n in range(limit)]
    assert [r.status_code for r in started] == [202] * limit
    refused = _plan(coordinator_client, day + dt.timedelta(days=limit))
    assert refused.status_code == 409
    assert sorted(refused.json()["extra"]["plans"]) == sorted(r.data["id"] for r in started)
    assert len(refused.json()["extra"]["urls"]) == limit


def test_a_run_left_queued_past_its_time_limit_and_the_margin_is_failed_and_the_day_planned_again(
    coordinator_client, small_day, queued_runs, settings
):
    day, _, _ = small_day
    lost = _plan(coordinator_client, day).data
    long_ago = timezone.now() - dt.timedelta(seconds=CAP_OF_1_S + settings.ROUNDS_PLAN_STALE_MARGIN_S + 1)
    m.PlanRun.objects.filter(pk=lost["id"]).update(created_at=long_ago)

    watched = coordinator_client.get(lost["url"]).data
    assert watched["status"] == "failed"
    assert watched["error"] == NOT_FINISHED_IN_TIME.format(margin=settings.ROUNDS_PLAN_STALE_MARGIN_S)
    assert _plan(coordinator_client, day).status_code == 202


def test_a_running_run_past_its_time_limit_and_the_margin_is_failed(
    coordinator_client, small_day, queued_runs, settings
):
    day, _, _ = small_day
    lost = _plan(coordinator_client, day).data
    started = timezone.now() - dt.timedelta(seconds=CAP_OF_1_S + settings.ROUNDS_PLAN_STALE_MARGIN_S + 1)
    m.PlanRun.objects.filter(pk=lost["id"]).update(status=m.PlanStatus.RUNNING, started_at=started)
    retried = _plan(coordinator_client, day)
    assert retried.status_code == 202
    assert m.PlanRun.objects.get(pk=lost["id"]).status == m.PlanStatus.FAILED


def test_a_run_past_its_time_limit_but_within_the_optimisers_wall_cap_and_margin_is_left_alone(
    coordinator_client, small_day, queued_runs, settings
):
    """On a loaded machine the deterministic search may run past its time limit up to its wall cap."""
    day, _, _ = small_day
    run = _plan(coordinator_client, day).data
    started = timezone.now() - dt.timedelta(seconds=CAP_OF_1_S - 1 + settings.ROUNDS_PLAN_STALE_MARGIN_S)
    m.PlanRun.objects.filter(pk=run["id"]).update(status=m.PlanStatus.RUNNING, started_at=started)
    assert coordinator_client.get(run["url"]).data["status"] == "running"


def test_a_run_still_within_its_time_limit_and_margin_is_left_alone(
    coordinator_client, small_day, queued_runs, settings
):
    day, _, _ = small_day
    run = _plan(coordinator_client, day).data
    recent = timezone.now() - dt.timedelta(seconds=settings.ROUNDS_PLAN_STALE_MARGIN_S / 2)
    m.PlanRun.objects.filter(pk=run["id"]).update(status=m.PlanStatus.RUNNING, started_at=recent)
    assert coordinator_client.get(run["url"]).data["status"] == "running"
    assert _plan(coordinator_client, day).status_code == 409


def test_a_second_late_report_joins_the_pending_re_plan(therapist, therapist_client, queued_runs):
    org = therapist.organization
    first, second = (f.VisitFactory(organization=org, windows=[("08:00", "16:00")]) for _ in range(2))
    first = visit_book(visit=first, therapist=therapist, planned_start=f.local(first.date, "09:00"))
    second = visit_book(visit=second, therapist=therapist, planned_start=f.local(second.date, "11:00"))
    with f.clock_at(f.local(first.date, "08:30")):
        a = therapist_client.post(f"/api/v1/visits/{first.pk}/late", {"minutes": 15}, format="json")
        b = therapist_client.post(f"/api/v1/visits/{second.pk}/late", {"minutes": 20}, format="json")
    assert a.status_code == b.status_code == 200
    assert a.data["replan"]["id"] == b.data["replan"]["id"]
    assert m.PlanRun.objects.filter(kind=m.PlanKind.REPLAN).count() == 1
    second.refresh_from_db()
    assert second.delay_min == 20  # the report itself is kept; the pending re-plan reads it when it runs


def test_a_re_plan_of_another_day_while_one_is_pending_is_a_409_not_the_other_days_proposal(
    coordinator_client, small_day, queued_runs
):
    day, _, _ = small_day
    pending = coordinator_client.post("/api/v1/replan", {"date": str(day)}, format="json")
    assert pending.status_code == 201 and pending.data["date"] == str(day)
    same_day = coordinator_client.post("/api/v1/replan", {"date": str(day)}, format="json")
    other_day = day + dt.timedelta(days=1)
    refused = coordinator_client.post("/api/v1/replan", {"date": str(other_day)}, format="json")

    assert same_day.status_code == 201 and same_day.data["id"] == pending.data["id"]  # joins it, as documented
    assert refused.status_code == 409
    assert refused.json() == {
        "detail": f"Re-plan {pending.data['id']} of {day} is still queued, and one re-plan runs at a time; "
        f"re-plan {other_day} once it is done.",
        "code": "plan_running",
        "extra": {"plan": pending.data["id"]},
    }
    assert m.PlanRun.objects.filter(kind=m.PlanKind.REPLAN).count() == 1


def test_the_database_refuses_a_second_active_run_for_a_day_or_a_second_pending_re_plan(organization):
    day = f.tomorrow()
    m.PlanRun.objects.create(organization=organization, date=day)
    with pytest.raises(IntegrityError), transaction.atomic():
        m.PlanRun.objects.create(organization=organization, date=day, status=m.PlanStatus.RUNNING)
    m.PlanRun.objects.create(organization=organization, date=day, status=m.PlanStatus.FAILED)
    m.PlanRun.objects.create(organization=organization, date=day, kind=m.PlanKind.REPLAN)
    with pytest.raises(IntegrityError), transaction.atomic():
        m.PlanRun.objects.create(organization=organization, date=day + dt.timedelta(days=1), kind=m.PlanKind.REPLAN)
