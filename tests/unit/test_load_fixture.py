"""`make load`'s agency: today's visits are open for check-in at whatever hour the run starts."""
from __future__ import annotations

import datetime as dt
import json
import zoneinfo

import pytest
from django.core.management import call_command

from dispatch.management.commands.load_fixture import TIGHTEST_MIN, today_slots
from dispatch.models import Visit

TORONTO = zoneinfo.ZoneInfo("America/Toronto")
CHECK_IN_OPENS_BEFORE = dt.timedelta(hours=2)


@pytest.mark.parametrize("hhmm", ["01:50", "03:00", "05:20", "06:50", "09:15", "10:59", "11:00", "16:00", "23:40"])
def test_the_three_visits_checked_in_are_open_and_the_day_fits_in_its_date(hhmm):
    now = dt.datetime.combine(dt.date(2026, 12, 2), dt.time.fromisoformat(hhmm), tzinfo=TORONTO)
    starts = [dt.datetime.combine(now.date(), t, tzinfo=TORONTO) for t in today_slots(now)]
    assert len(starts) == 4 and starts == sorted(starts)
    assert all(b - a >= dt.timedelta(minutes=TIGHTEST_MIN) for a, b in zip(starts, starts[1:]))
    assert all(s.date() == now.date() for s in starts)
    assert all(s - CHECK_IN_OPENS_BEFORE <= now for s in starts[:3])


def test_a_run_in_the_first_minutes_of_the_day_keeps_the_sessions_apart():
    now = dt.datetime(2026, 12, 2, 0, 10, tzinfo=TORONTO)
    starts = today_slots(now)
    assert starts[0] == dt.time(0, 5) and len(set(starts)) == 4


def test_the_command_books_today_as_laid_out_and_tomorrow_as_usual(db, tmp_path, settings):
    call_command("seed_demo")
    out = tmp_path / "agency.json"
    call_command("load_fixture", "--therapists", "3", "--facilities", "2", "--staff-per-facility", "1",
                 "--coordinators", "1", "--out", str(out))
    agency = json.loads(out.read_text())
    assert len(agency["therapists"]) == 3 and len(agency["coordinators"]) == 1
    today = dt.date.fromisoformat(agency["today"])
    visits = Visit.objects.filter(date=today, therapist__isnull=False)
    assert visits.count() == 12
    first = visits.filter(pk__in=agency["therapists"][0]["check_in"]).order_by("planned_start")
    assert first.count() == 3
    assert all(not (v.planned_end > w.planned_start) for v, w in zip(first, first[1:]))
