"""What a message says: time, place, initials and a link; never a diagnosis, an intake note or a contraindication.

Everything a message may carry is copied into an item here, from a short list of visit fields; the
subject, the email body, the SMS text and the webhook payload are all made from items only.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.utils import timezone

from dispatch.models import Visit

EVENT_TEXT = {
    "visit.added": "now on your schedule",
    "visit.moved": "moved from {previous}",
    "visit.removed": "no longer on your schedule",
    "visit.cancelled": "cancelled",
    "request.scheduled": "scheduled",
    "request.moved": "moved from {previous}",
    "request.unscheduled": "no longer scheduled",
    "request.cancelled": "{status}",
    "visit.late": "no check-in {late_min} min after the planned start ({therapist})",
    "visit.at_risk": "expected to start {expected}, outside its window ({therapist})",
    "visit.checkin_far": "checked in {distance_m} m from the visit's place ({therapist})",
}
# Reasons are owed to the facility that asked (its staff read them in the API too) and to the webhooks
# of its facility or organisation; a therapist's message never carries one (for_staff is False).
REASON_EVENTS = frozenset({"request.cancelled", "request.unscheduled", "visit.cancelled", "visit.unscheduled"})


def _local(moment: dt.datetime | None, tz) -> str | None:
    return moment.astimezone(tz).isoformat() if moment else None


def visit_link(*, visit: Visit, for_staff: bool) -> str:
    base = settings.ROUNDS_PUBLIC_URL.rstrip("/")
    # Facility staff have no board: their link is the visit in the API, which shows them their own.
    return f"{base}/api/v1/visits/{visit.pk}" if for_staff else f"{base}/board/?date={visit.date.isoformat()}"


def visit_item(
    *, visit: Visit, event: str, previous_start: dt.datetime | None, for_staff: bool, **extra: Any
) -> dict[str, Any]:
    tz = visit.organization.tz
    return {
        "event": event,
        "visit": visit.pk,
        "facility": visit.facility_id,
        "status": visit.status,
        "date": visit.date.isoformat(),
        "start": _local(visit.planned_start, tz),
        "end": _local(visit.planned_end, tz),
        "previous_start": _local(previous_start, tz),
        "place": visit.location_text,
        "initials": visit.patient.initials,
        "reason": visit.status_reason if for_staff and event in REASON_EVENTS else "",
        "urgent": visit.date == timezone.localdate(timezone=tz),
        "link": visit_link(visit=visit, for_staff=for_staff),
        **extra,
    }


def _hhmm(iso: str | None) -> str:
    return dt.datetime.fromisoformat(iso).strftime("%H:%M") if iso else "--:--"


def _day(item: dict[str, Any], today: dt.date) -> str:
    day = dt.date.fromisoformat(item["date"])
    if day == today:
        return "Today"
    if day == today + dt.timedelta(days=1):
        return "Tomorrow"
    return day.strftime("%a %d %b")


def item_line(item: dict[str, Any], *, today: dt.date) -> str:
    start = item["start"] or item["previous_start"]
    when = f"{_day(item, today)} {_hhmm(start)}"
    if item["start"] and item["end"]:
        when += f"-{_hhmm(item['end'])}"
    text = EVENT_TEXT[item["event"]].format(
        previous=_hhmm(item["previous_start"]),
        status=item["status"].replace("_", "-"),
        **{k: item.get(k, "") for k in ("late_min", "expected", "therapist", "distance_m")},
    )
    line = f"{when}, {item['place']}, {item['initials']}: {text}"
    return f"{line}. Reason: {item['reason']}" if item["reason"] else line


def message_compose(items: list[dict[str, Any]], *, tz) -> tuple[str, str, str, str]:
    """(subject, email body, SMS text, link) for one person's items of one change."""
    today = timezone.localdate(timezone=tz)
    lines = [item_line(item, today=today) for item in items]
    link = items[0]["link"]
    if len(items) == 1:
        subject = f"Rounds: {lines[0]}"
        sms = f"{subject} {link}"
    else:
        subject = f"Rounds: {len(items)} changes to your visits"
        sms = f"{subject}, first: {lines[0]}. {link}"
    body = "\n".join(["Hello,", "", f"{len(items)} change{'s' if len(items) > 1 else ''} in Rounds:", "", ""])
    body += "\n".join(f"- {line}" for line in lines)
    body += f"\n\nOpen Rounds: {link}\n"
    return subject[:200], body, sms[:320], link
