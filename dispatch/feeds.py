"""Visits as iCalendar (RFC 5545, RFC 7986): pure functions from loaded visits to a Calendar.

What a calendar shows leaves the service: calendar apps sync it to their providers and show it on
lock screens. So an event carries the minimum, for therapists and facilities alike: the time, the
place (LOCATION, a home address included), the patient's initials, the kind of visit, and a link to
the visit in Rounds, where a signed-in therapist reads precautions, access notes and instructions.
Nothing clinical or from the intake ever goes into a feed or a single-visit download.
"""

from __future__ import annotations

import datetime as dt
import enum
import zoneinfo
from collections.abc import Iterable
from typing import TYPE_CHECKING

import icalendar
from django.conf import settings

from dispatch.models import VisitStatus

if TYPE_CHECKING:
    from dispatch.models import Organization, Visit

PRODID = "-//Rounds//Visit schedule//EN"
REFRESH = dt.timedelta(hours=1)
# The VTIMEZONE carries the rules for this span around the feed, not every transition since 1970.
TZ_RULES_SPAN = dt.timedelta(days=400)

ICAL_STATUS = {
    VisitStatus.SCHEDULED: "TENTATIVE",
    VisitStatus.CONFIRMED: "CONFIRMED",
    VisitStatus.IN_PROGRESS: "CONFIRMED",
    VisitStatus.COMPLETED: "CONFIRMED",
    VisitStatus.NO_SHOW: "CONFIRMED",
    VisitStatus.CANCELLED: "CANCELLED",
}


class Audience(enum.Enum):
    THERAPIST = "therapist"
    FACILITY = "facility"


def visit_uid(visit: Visit, *, prefix: str = "visit") -> str:
    return f"{prefix}-{visit.pk}@{visit.organization.slug}.rounds"


def visit_summary(visit: Visit, *, audience: Audience) -> str:
    summary = f"Massage visit ({visit.care_setting.label.lower()}) — {visit.patient.initials}"
    if audience is Audience.FACILITY and visit.therapist_id:
        summary += f" with {visit.therapist.display_name.split()[0]}"
    return summary


def visit_link(visit: Visit, *, audience: Audience) -> str:
    """Where the visit opens in Rounds: the therapist's day in the phone app, or the facility's request page."""
    base = settings.ROUNDS_PUBLIC_URL.rstrip("/")
    if audience is Audience.FACILITY:
        return f"{base}/facility/"
    return f"{base}/app/?date={visit.date.isoformat()}"


def visit_description(visit: Visit, *, audience: Audience) -> str:
    """The same words for every visit, so the text itself says nothing about the patient."""
    where = "Precautions, access notes and instructions" if audience is Audience.THERAPIST else "The visit"
    return f"{where}: open Rounds (signed in) at {visit_link(visit, audience=audience)}"


def _event_common(event: icalendar.Event, visit: Visit, *, uid: str, status: str) -> None:
    event.add("uid", uid)
    # DTSTAMP follows the visit, not the request time, so an unchanged feed has an unchanged body and ETag.
    event.add("dtstamp", visit.updated_at)
    event.add("created", visit.created_at)
    event.add("last-modified", visit.updated_at)
    event.add("sequence", visit.sequence)
    event.add("status", status)
    event.add("transp", "OPAQUE")


def visit_events(visit: Visit, *, audience: Audience, travel: bool = True) -> list[icalendar.Event]:
    """The visit's event and, in a therapist's calendar, the travel block that ends when the visit starts."""
    tz = visit.organization.tz
    start, end = visit.planned_start.astimezone(tz), visit.planned_end.astimezone(tz)
    status = ICAL_STATUS[VisitStatus(visit.status)]
    event = icalendar.Event()
    _event_common(event, visit, uid=visit_uid(visit), status=status)
    event.add("dtstart", start)
    event.add("dtend", end)
    cancelled = status == "CANCELLED"
    # Some clients ignore STATUS and would show a cancelled visit as on; the summary says it too.
    summary = visit_summary(visit, audience=audience)
    event.add("summary", f"Cancelled: {summary}" if cancelled else summary)
    event.add("location", visit.location_text)
    event.add("geo", (float(visit.lat), float(visit.lon)))
    event.add("url", visit_link(visit, audience=audience))
    event.add("description", visit_description(visit, audience=audience))
    events = [event]
    if audience is Audience.THERAPIST and travel and visit.planned_travel_min and not cancelled:
        block = icalendar.Event()
        _event_common(block, visit, uid=visit_uid(visit, prefix="travel"), status=status)
        # Subtracted from the instant, not the local wall time: across a clock change the wall-time sum
        # names an hour that does not exist (or exists twice), and calendar apps read it differently.
        block.add("dtstart", (visit.planned_start - dt.timedelta(minutes=visit.planned_travel_min)).astimezone(tz))
        block.add("dtend", start)
        block.add("summary", "Travel")
        block.add("description", f"{visit.planned_travel_min} min to {visit.patient.initials}")
        events.append(block)
    return events


def _zone_state(tz: zoneinfo.ZoneInfo, instant: dt.datetime) -> tuple[dt.timedelta, str]:
    local = instant.astimezone(tz)
    return local.utcoffset(), local.tzname()


def vtimezone(tz: zoneinfo.ZoneInfo, *, first: dt.date, last: dt.date) -> icalendar.Timezone:
    """The zone's offsets from first to last: one STANDARD or DAYLIGHT per change, each with its own DTSTART.

    icalendar's Timezone.from_tzinfo lists later changes as RDATE values, which vobject (dateutil) misreads
    after the first one, and puts a spring-forward onset an hour late (in the new offset, not the old).
    """
    start = dt.datetime.combine(first, dt.time(0), tzinfo=dt.UTC)
    end = dt.datetime.combine(last, dt.time(0), tzinfo=dt.UTC)
    state = _zone_state(tz, start)
    changes = [(start, state[0], state)]  # (onset, offset before it, offset and name after it)
    day = start
    while day < end:
        if _zone_state(tz, day + dt.timedelta(days=1)) != state:
            # Bisect the day to the minute: offsets change on whole minutes.
            low, high = 0, 24 * 60
            while high - low > 1:
                middle = (low + high) // 2
                if _zone_state(tz, day + dt.timedelta(minutes=middle)) == state:
                    low = middle
                else:
                    high = middle
            onset = day + dt.timedelta(minutes=high)
            changes.append((onset, state[0], _zone_state(tz, onset)))
            state = changes[-1][2]
        day += dt.timedelta(days=1)
    # The lowest offset is standard time; tzdata's own dst() flag is negative in winter for Europe/Dublin.
    standard = min(offset for _, _, (offset, _) in changes)
    component = icalendar.Timezone()
    component.add("tzid", tz.key)
    for onset, offset_from, (offset_to, name) in changes:
        observance = icalendar.TimezoneDaylight() if offset_to > standard else icalendar.TimezoneStandard()
        # RFC 5545 3.6.5: the onset is local time in the offset that was in force before it.
        observance.add("dtstart", (onset + offset_from).replace(tzinfo=None))
        observance.add("tzoffsetfrom", offset_from)
        observance.add("tzoffsetto", offset_to)
        observance.add("tzname", name)
        component.add_component(observance)
    return component


def calendar_build(
    *,
    organization: Organization,
    name: str,
    visits: Iterable[Visit],
    audience: Audience,
    travel: bool = True,
    now: dt.datetime,
) -> icalendar.Calendar:
    cal = icalendar.Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("name", name)
    cal.add("x-wr-calname", name)
    cal.add("x-wr-timezone", organization.timezone)
    cal.add("refresh-interval", REFRESH, parameters={"VALUE": "DURATION"})
    cal.add("x-published-ttl", icalendar.vDuration(REFRESH))
    # Rules for a fixed span around today (not the feed's own contents) so the body only changes with the visits.
    year_start = dt.date(now.year, 1, 1)
    cal.add_component(
        vtimezone(
            organization.tz,
            first=year_start - dt.timedelta(days=366),
            last=year_start + dt.timedelta(days=2 * 366),
        )
    )
    for visit in visits:
        for event in visit_events(visit, audience=audience, travel=travel):
            cal.add_component(event)
    return cal
