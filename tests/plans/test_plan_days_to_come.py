"""A day plan is for a day still to come: a past day is a 400 on `date`; today, once begun, is re-planned.

The day plan places the whole day from its first minute; only the re-plan (POST /api/v1/replan) plans
from now around what is already under way. So a day plan for today is refused, and so is applying,
once its day has begun, a plan made the evening before.
"""
from __future__ import annotations

import datetime as dt
import zoneinfo
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from dispatch import models as m
from dispatch.demo.seed import DEMO_SLUG
from tests import factories as f
from tests.conftest import _client_for


def _plan(client, day: dt.date):
    return client.post("/api/v1/plans", {"date": str(day), "time_limit_s": 1}, format="json")


def test_a_plan_for_a_past_day_is_a_400_on_date_and_books_nothing(coordinator_client, small_day):
    day, _, _ = small_day
    with f.clock_at(f.local(day + dt.timedelta(days=1), "10:00")):
        response = _plan(coordinator_client, day)

    assert response.status_code == 400, response.data
    assert response.data["date"] == [
        f"{day} has passed (today is {day + dt.timedelta(days=1)}); a day plan books visits on a day still to come."
    ]
    assert not m.PlanRun.objects.exists()
    assert not m.Visit.objects.exclude(status=m.VisitStatus.REQUESTED).exists()


def test_a_plan_for_today_is_refused_pointing_to_the_replan(coordinator_client, small_day):
    day, _, _ = small_day
    with f.clock_at(f.local(day, "17:10")):
        response = _plan(coordinator_client, day)

    assert response.status_code == 409, response.data
    assert response.data["detail"] == (
        f"{day} is today and under way (17:10): a day plan would book visits before now. "
        "Re-plan the rest of today instead: POST /api/v1/replan."
    )
    assert response.data["extra"]["replan"] == "/api/v1/replan"
    assert not m.PlanRun.objects.exists()


@pytest.mark.parametrize("hhmm", ["00:05", "07:00"])
def test_today_is_refused_even_before_its_first_visit(coordinator_client, small_day, hhmm):
    day, _, _ = small_day
    with f.clock_at(f.local(day, hhmm)):
        assert _plan(coordinator_client, day).status_code == 409


def test_a_plan_made_the_evening_before_cannot_be_applied_once_the_day_has_begun(coordinator_client, small_day):
    day, _, visits = small_day
    with f.clock_at(f.local(day - dt.timedelta(days=1), "18:00")):
        run = _plan(coordinator_client, day)
        assert run.status_code == 202 and run.data["status"] == "succeeded", run.data

    for at in (f.local(day, "17:10"), f.local(day + dt.timedelta(days=1), "09:00")):
        with f.clock_at(at):
            applied = coordinator_client.post(f"/api/v1/plans/{run.data['id']}/apply", format="json")
        assert applied.status_code == 409, applied.data
        assert str(day) in applied.data["detail"]
    assert not m.Visit.objects.filter(pk__in=[v.pk for v in visits]).exclude(status=m.VisitStatus.REQUESTED).exists()

    with f.clock_at(f.local(day - dt.timedelta(days=1), "23:59")):
        applied = coordinator_client.post(f"/api/v1/plans/{run.data['id']}/apply", format="json")
    assert applied.status_code == 200, applied.data
    assert m.Visit.objects.filter(date=day, status=m.VisitStatus.SCHEDULED).exists()


def test_plan_day_says_why_it_will_not_plan_a_past_day(small_day, organization):
    day, _, _ = small_day
    with f.clock_at(f.local(day + dt.timedelta(days=1), "10:00")), pytest.raises(CommandError, match="has passed"):
        call_command("plan_day", "--organization", organization.slug, "--date", str(day), stdout=StringIO())


@pytest.mark.django_db
def test_make_run_late_in_the_afternoon_still_starts_the_demos_today():
    """The demo sets its today up as planned the evening before, so it works at any hour."""
    late = dt.datetime(2026, 11, 25, 17, 10, tzinfo=zoneinfo.ZoneInfo("America/Toronto"))
    with f.clock_at(late):
        call_command("seed_demo", "--today-visits", "40", stdout=StringIO())
        out = StringIO()
        call_command("demo_today", "--time-limit", "2", stdout=out)

    assert "visits planned and applied" in out.getvalue()
    org = m.Organization.objects.get(slug=DEMO_SLUG)
    today = late.date()
    # Played up to 17:10 as planned: the day's visits so far are done (or under way), none waiting late.
    assert m.Visit.objects.filter(organization=org, date=today, status=m.VisitStatus.COMPLETED).exists()
    assert not m.Visit.objects.filter(
        organization=org, date=today, status=m.VisitStatus.SCHEDULED, planned_start__lte=late
    ).exists()
    # Through the API, the same today is the re-plan's: a day plan is refused.
    coordinator = m.User.objects.filter(organization=org, role=m.Role.COORDINATOR).first()
    with f.clock_at(late):
        assert _plan(_client_for(coordinator), today).status_code == 409
