"""Visits as iCalendar (RFC 5545, RFC 7986): pure functions from loaded visits to a Calendar.

What a calendar shows leaves the service: a therapist's feed carries what is needed to work safely
(precautions, access, instructions) and never the diagnosis, referral, payer or contraindication notes;
a facility's feed carries when, where and who, nothing from the intake.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable
from typing import TYPE_CHECKING

import icalendar

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


def visit_description(visit: Visit) -> str:
    """For the therapist only: what is needed at the bedside, nothing from the referral."""
    lines = []
    precautions = list(visit.patient.precautions.all())
    if precautions:
        lines.append("Precautions:")
        for p in precautions:
            site = f" ({p.body_site})" if p.body_site else ""
            note = f": {p.note}" if p.note else ""
            lines.append(f"- {p.get_kind_display()}{site}{note}")
    if visit.patient.access_notes:
        lines.append(f"Access: {visit.patient.access_notes}")
    if visit.instructions:
        lines.append(f"Instructions: {visit.instructions}")
    lines.append(f"Session {visit.duration_min} min, then {visit.effective_buffer_min} min buffer.")
    return "\n".join(lines)


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
    event.add("summary", visit_summary(visit, audience=audience))
    event.add("location", visit.location_text)
    event.add("geo", (float(visit.lat), float(visit.lon)))
    if audience is Audience.THERAPIST:
        event.add("description", visit_description(visit))
    events = [event]
    if audience is Audience.THERAPIST and travel and visit.planned_travel_min and status != "CANCELLED":
        block = icalendar.Event()
        _event_common(block, visit, uid=visit_uid(visit, prefix="travel"), status=status)
        block.add("dtstart", start - dt.timedelta(minutes=visit.planned_travel_min))
        block.add("dtend", start)
        block.add("summary", "Travel")
        block.add("description", f"{visit.planned_travel_min} min to {visit.patient.initials}")
        events.append(block)
    return events


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
        icalendar.Timezone.from_tzinfo(
            organization.tz,
            tzid=organization.timezone,
            first_date=year_start - dt.timedelta(days=366),
            last_date=year_start + dt.timedelta(days=2 * 366),
        )
    )
    for visit in visits:
        for event in visit_events(visit, audience=audience, travel=travel):
            cal.add_component(event)
    return cal
