from __future__ import annotations

import datetime as dt
import zoneinfo

import icalendar
import pytest
import vobject
from django.utils import timezone

from dispatch.feeds import Audience, calendar_build, vtimezone
from dispatch.selectors.feeds import feed_visit_list
from dispatch.services.feed_tokens import feed_token_rotate
from dispatch.simulation.feeds import parse
from tests import factories as f
from tests.feeds.conftest import events_by_uid, parse_both, scheduled_visit

UTC = dt.UTC
TORONTO = zoneinfo.ZoneInfo("America/Toronto")


@pytest.mark.parametrize(
    ("before", "after", "now", "utc_after"),
    [
        # Spring forward: Sunday 2027-03-14 02:00 EST -> 03:00 EDT.
        (dt.date(2027, 3, 12), dt.date(2027, 3, 15), dt.datetime(2027, 3, 13, 12), dt.datetime(2027, 3, 15, 13)),
        # Fall back: Sunday 2026-11-01 02:00 EDT -> 01:00 EST.
        (dt.date(2026, 10, 30), dt.date(2026, 11, 2), dt.datetime(2026, 10, 31, 12), dt.datetime(2026, 11, 2, 14)),
    ],
)
def test_a_0900_visit_after_the_dst_change_stays_at_0900_local(therapist, before, after, now, utc_after):
    first = scheduled_visit(therapist=therapist, start=dt.datetime.combine(before, dt.time(9), tzinfo=TORONTO))
    second = scheduled_visit(therapist=therapist, start=dt.datetime.combine(after, dt.time(9), tzinfo=TORONTO))
    now = now.replace(tzinfo=TORONTO)
    body = calendar_build(
        organization=therapist.organization,
        name="t",
        visits=feed_visit_list(therapist=therapist, now=now),
        audience=Audience.THERAPIST,
        now=now,
    ).to_ical()

    assert f"DTSTART;TZID=America/Toronto:{before:%Y%m%d}T090000".encode() in body
    assert f"DTSTART;TZID=America/Toronto:{after:%Y%m%d}T090000".encode() in body
    cal, vcal = parse_both(body)
    slug = therapist.organization.slug
    uid = f"visit-{second.pk}@{slug}.rounds"
    assert events_by_uid(cal)[uid].decoded("DTSTART").astimezone(UTC) == utc_after.replace(tzinfo=UTC)
    # vobject resolves the TZID through the feed's own VTIMEZONE.
    v_starts = {e.uid.value: e.dtstart.value for e in vcal.vevent_list}
    assert v_starts[uid].astimezone(UTC) == utc_after.replace(tzinfo=UTC)
    assert v_starts[f"visit-{first.pk}@{slug}.rounds"].astimezone(TORONTO).hour == 9


def test_the_feed_speaks_the_organisations_own_zone(db, anonymous_client):
    org = f.OrganizationFactory(timezone="Europe/Berlin")
    therapist = f.TherapistFactory(organization=org)
    berlin = zoneinfo.ZoneInfo("Europe/Berlin")
    day = timezone.localdate(timezone=berlin) + dt.timedelta(days=1)
    visit = scheduled_visit(therapist=therapist, start=dt.datetime.combine(day, dt.time(9, 30), tzinfo=berlin))
    _, token = feed_token_rotate(therapist=therapist)

    body = anonymous_client.get(f"/feeds/therapists/{token}.ics").content
    cal, vcal = parse_both(body)
    assert [str(tz["TZID"]) for tz in cal.walk("VTIMEZONE")] == ["Europe/Berlin"]
    assert str(cal["X-WR-TIMEZONE"]) == "Europe/Berlin"
    assert f"DTSTART;TZID=Europe/Berlin:{day:%Y%m%d}T093000".encode() in body
    v_event = next(e for e in vcal.vevent_list if e.uid.value == f"visit-{visit.pk}@{org.slug}.rounds")
    assert v_event.dtstart.value.astimezone(UTC) == dt.datetime.combine(day, dt.time(9, 30), tzinfo=berlin)


@pytest.mark.parametrize(
    "zone", ["America/Toronto", "America/Regina", "Europe/Berlin", "Europe/Dublin", "Australia/Lord_Howe", "UTC"]
)
def test_the_vtimezone_gives_both_parsers_the_zones_own_offsets(zone):
    """Not the parsers' own zone databases: the rules written in the feed, every half hour of their span.

    An event says DTSTART;TZID=zone:<local wall time>, so the check is wall time -> offset; the hour a
    change repeats or skips is left out (no parser agrees on it, and no visit is booked in it).
    """
    tz = zoneinfo.ZoneInfo(zone)
    first, last = dt.date(2025, 1, 1), dt.date(2028, 1, 2)
    component = vtimezone(tz, first=first, last=last)
    body = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:test\r\n" + component.to_ical() + b"END:VCALENDAR\r\n"
    from_icalendar = icalendar.Calendar.from_ical(body).walk("VTIMEZONE")[0].to_tz(lookup_tzid=False)
    from_vobject = vobject.readOne(body.decode()).vtimezone.gettzinfo()

    wall, checked = dt.datetime.combine(first, dt.time(0)) + dt.timedelta(days=1), 0
    while wall < dt.datetime.combine(last, dt.time(0)):
        expected = wall.replace(tzinfo=tz).utcoffset()
        if expected == wall.replace(tzinfo=tz, fold=1).utcoffset():
            for parsed in (from_icalendar, from_vobject):
                assert wall.replace(tzinfo=parsed).utcoffset() == expected, (zone, wall, parsed)
            checked += 1
        wall += dt.timedelta(minutes=30)
    assert checked > 365 * 2 * 48
    if zone in ("Europe/Dublin", "America/Toronto"):
        assert [c.name for c in component.subcomponents][1:3] == ["DAYLIGHT", "STANDARD"]


def test_the_two_parser_check_reads_each_feed_with_its_own_zone_rules():
    """vobject keeps the first VTIMEZONE it reads for a zone for the whole process; a feed made in 2030, read
    after one made in 2026, was read an hour off all summer (the simulation's feeds_parse failures in CI)."""
    tz = TORONTO

    def body(year: int, start: dt.datetime) -> bytes:
        cal = icalendar.Calendar()
        cal.add("prodid", "-//test//")
        cal.add("version", "2.0")
        cal.add_component(vtimezone(tz, first=dt.date(year - 1, 1, 1), last=dt.date(year + 2, 1, 1)))
        event = icalendar.Event()
        for name, value in (("uid", f"v-{year}"), ("dtstamp", start), ("dtstart", start), ("sequence", 0)):
            event.add(name, value)
        event.add("dtend", start + dt.timedelta(minutes=30))
        cal.add_component(event)
        return cal.to_ical()

    assert parse(body(2026, dt.datetime(2026, 7, 1, 10, tzinfo=tz)))[1] == []
    events, problems = parse(body(2030, dt.datetime(2030, 7, 1, 10, tzinfo=tz)))
    assert problems == []
    assert events["v-2030"].start == dt.datetime(2030, 7, 1, 14, tzinfo=dt.UTC)
