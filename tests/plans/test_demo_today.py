"""`make run` starts the demo's today, so a newcomer can report a delay and read the proposal."""
from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command
from django.utils import timezone
from django.test import Client
from rest_framework.test import APIClient

from dispatch import models as m
from dispatch.demo.seed import DEMO_SLUG


# A fixed morning: the commands take seconds, and a run crossing local midnight would seed one "today"
# and plan another.
AT = dt.datetime(2026, 11, 25, 9, 30, tzinfo=zoneinfo.ZoneInfo("America/Toronto"))


@pytest.mark.django_db
@time_machine.travel(AT, tick=False)  # a still clock: a slow machine must not move "now" past a visit
def test_make_run_seeds_today_starts_it_and_a_late_report_gets_a_local_proposal():
    call_command("seed_demo", "--today-visits", "40", stdout=StringIO())
    call_command("plan_day", "--time-limit", "2", stdout=StringIO())
    call_command("demo_today", "--time-limit", "2", stdout=StringIO())
    org = m.Organization.objects.get(slug=DEMO_SLUG)
    today = timezone.localdate(timezone=org.tz)

    _played_up_to(org, today, AT)
    assert m.Visit.objects.filter(organization=org, date=today, status=m.VisitStatus.IN_PROGRESS).exists()
    assert m.Visit.objects.filter(organization=org, date=today, status=m.VisitStatus.SCHEDULED).exists()
    assert m.Visit.objects.filter(organization=org, date=today + dt.timedelta(days=1)).count() == 150

    banner = StringIO()
    call_command("demo_banner", stdout=banner)
    late = re.search(r"Token (\w+)\" .*-d '(\{.*\})' http://[^/]+(/api/v1/visits/\d+/late)", banner.getvalue())
    assert late, banner.getvalue()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {late[1]}")
    response = client.post(late[3], data=late[2], content_type="application/json")

    assert response.status_code == 200, response.data
    diff = response.data["replan"]["diff"]
    therapist = m.Visit.objects.get(pk=int(late[3].split("/")[4])).therapist
    assert diff["scope"] in ("local", "nearby", "further")
    assert diff["counts"]["others_disturbed"] <= 3
    # Local first: other therapists are touched only where the late one's day cannot absorb it, and each such
    # change names the rule that forced it (the plan the demo starts from depends on how far its search got).
    others = [row for row in diff["moved"] + diff["reassigned"] if row["old_therapist"] != therapist.pk]
    assert all(row["rule"] for row in others), others
    assert not others or diff["scope"] != "local"


@pytest.mark.django_db
def test_make_run_before_the_first_visits_checks_in_none_ahead_of_the_clock():
    early = AT.replace(hour=7, minute=40)
    with time_machine.travel(early, tick=False):
        call_command("seed_demo", "--today-visits", "40", stdout=StringIO())
        out = StringIO()
        call_command("demo_today", "--time-limit", "2", stdout=out)

    org = m.Organization.objects.get(slug=DEMO_SLUG)
    today = early.date()
    assert "visits planned and applied" in out.getvalue()
    _played_up_to(org, today, early)
    assert m.Visit.objects.filter(organization=org, date=today, status=m.VisitStatus.SCHEDULED).exists()


def _played_up_to(org, day, now) -> None:
    """Each visit of the day as the plan had it up to ``now``: done on time, under way from its start, or to come."""
    visits = m.Visit.objects.filter(organization=org, date=day).exclude(status=m.VisitStatus.REQUESTED)
    assert visits.exists()
    for v in visits:
        if v.planned_end <= now:
            assert (v.status, v.actual_start, v.actual_end) == (m.VisitStatus.COMPLETED, v.planned_start, v.planned_end)
        elif v.planned_start <= now:
            assert (v.status, v.actual_start) == (m.VisitStatus.IN_PROGRESS, v.planned_start), v
        else:
            assert v.status == m.VisitStatus.SCHEDULED and v.actual_start is None, v


@pytest.mark.django_db
def test_make_run_in_the_evening_shows_a_day_done_on_time_not_one_all_late():
    evening = AT.replace(hour=19, minute=30)
    with time_machine.travel(evening, tick=False):
        call_command("seed_demo", "--today-visits", "40", stdout=StringIO())
        call_command("demo_today", "--time-limit", "2", stdout=StringIO())
        org = m.Organization.objects.get(slug=DEMO_SLUG)
        _played_up_to(org, evening.date(), evening)
        done = m.Visit.objects.filter(organization=org, date=evening.date(), status=m.VisitStatus.COMPLETED)
        assert done.count() >= 10
        client = Client()
        client.force_login(m.User.objects.get(username="coordinator"))
        kpis = client.get(f"/board/live?date={evening.date()}").json()["kpis"]
        assert kpis["late"] == 0
