"""`make load`'s agency: today's visits are open for check-in at whatever hour the run starts."""
from __future__ import annotations

import datetime as dt
import json
import zoneinfo

import pytest
import time_machine
from django.core.management import call_command

from dispatch.management.commands.load_fixture import (
    FIRST_OPEN_IN_MIN,
    HELD_AFTER_START_MIN,
    LATE_BY_MIN,
    TIGHTEST_MIN,
    today_slots,
)
from dispatch.models import Visit, VisitStatus

TORONTO = zoneinfo.ZoneInfo("America/Toronto")
CHECK_IN_OPENS_BEFORE = dt.timedelta(hours=2)


def _starts(now: dt.datetime) -> list[dt.datetime]:
    return [dt.datetime.combine(now.date(), t, tzinfo=TORONTO) for t in today_slots(now)]


@pytest.mark.parametrize("hhmm", ["00:10", "01:50", "03:00", "05:20", "06:50", "09:15", "11:00", "16:00", "18:30"])
def test_today_is_a_day_under_way_one_session_done_the_next_open_and_none_late(hhmm):
    now = dt.datetime.combine(dt.date(2026, 12, 2), dt.time.fromisoformat(hhmm), tzinfo=TORONTO)
    starts = _starts(now)
    assert len(starts) == 4 and starts == sorted(starts)
    assert all(b - a >= dt.timedelta(minutes=TIGHTEST_MIN) for a, b in zip(starts, starts[1:]))
    assert all((s + dt.timedelta(minutes=HELD_AFTER_START_MIN)).date() == now.date() for s in starts)  # windows too
    done = [s for s in starts if s + dt.timedelta(minutes=45 + 15) <= now]  # the session and its buffer over
    upcoming = starts[len(done):]
    assert len(done) == (0 if hhmm == "00:10" else 1)
    # Nothing still to come is late during a run (10 min without a check-in), and two are open for check-in.
    assert all(s >= now + dt.timedelta(minutes=FIRST_OPEN_IN_MIN) for s in upcoming)
    assert sum(s - CHECK_IN_OPENS_BEFORE <= now for s in upcoming[:-1]) >= 2


def test_a_run_late_in_the_evening_keeps_the_day_in_its_date_and_checks_in_late():
    now = dt.datetime(2026, 12, 2, 23, 40, tzinfo=TORONTO)
    starts = _starts(now)
    assert len(set(starts)) == 4 and all(s.date() == now.date() for s in starts)
    assert starts[-1] + dt.timedelta(minutes=HELD_AFTER_START_MIN) <= now.replace(hour=23, minute=55)


def test_the_command_books_today_as_a_day_under_way_and_tomorrow_as_usual(db, tmp_path):
    call_command("seed_demo")
    out = tmp_path / "agency.json"
    with time_machine.travel(dt.datetime(2031, 3, 4, 11, 0, tzinfo=TORONTO), tick=False):
        call_command("load_fixture", "--therapists", "3", "--facilities", "2", "--staff-per-facility", "1",
                     "--coordinators", "1", "--out", str(out))
    agency = json.loads(out.read_text())
    assert len(agency["therapists"]) == 3 and len(agency["coordinators"]) == 1
    today = dt.date.fromisoformat(agency["today"])
    visits = Visit.objects.filter(date=today, therapist__isnull=False)
    assert visits.count() == 12
    assert visits.filter(status=VisitStatus.COMPLETED, actual_end__isnull=False).count() == 3  # one each, done
    first = visits.filter(pk__in=agency["therapists"][0]["check_in"]).order_by("planned_start")
    assert first.count() == 2 and all(v.status == VisitStatus.SCHEDULED for v in first)
    assert all(not (v.planned_busy_until > w.planned_start) for v, w in zip(first, first[1:]))
    # The first therapist of every LATE_EVERY is late at the run's start: its next session began 12 min ago.
    now = dt.datetime(2031, 3, 4, 11, 0, tzinfo=TORONTO)
    late = [v for v in first if v.planned_start + dt.timedelta(minutes=10) <= now]
    assert len(late) == 1 and late[0].planned_start == now - dt.timedelta(minutes=LATE_BY_MIN)
    later = visits.filter(therapist_id=late[0].therapist_id, planned_start__gt=late[0].planned_start)
    assert all(v.planned_start >= late[0].planned_busy_until for v in later)
    assert not visits.exclude(therapist_id=late[0].therapist_id).filter(
        status=VisitStatus.SCHEDULED, planned_start__lte=now - dt.timedelta(minutes=10)).exists()
