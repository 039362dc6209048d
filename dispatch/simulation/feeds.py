"""Calendar subscriptions as a phone polls them: the URL from /me/feed, then conditional GETs.

Each fresh body is read by two independent parsers (icalendar and vobject); they must agree on every
event. A 304 keeps the last body, which the invariants then hold against the database as it is now:
a feed that says "not modified" while its visits moved is caught that way.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import icalendar
import vobject

if TYPE_CHECKING:
    from dispatch.simulation.http import Actor


@dataclass(frozen=True)
class Event:
    uid: str
    start: dt.datetime
    end: dt.datetime
    sequence: int
    status: str
    summary: str


@dataclass
class Feed:
    owner: str  # "therapist" or "facility"
    owner_id: int
    agency: int
    reader: Actor  # whose URL it is (the therapist, or a facility's staff member)
    path: str = ""
    etag: str | None = None
    events: dict[str, Event] = field(default_factory=dict)
    text: str = ""  # unfolded body, for what must never be in it
    gone: bool = False  # answered 404 (a deactivated therapist's)


def unfold(body: bytes) -> str:
    # RFC 5545 folds lines at 75 octets, which can split a word.
    return body.replace(b"\r\n ", b"").replace(b"\r\n\t", b"").decode("utf-8")


def _aware(value) -> dt.datetime:
    assert isinstance(value, dt.datetime) and value.tzinfo is not None, f"{value!r} is not an aware datetime"
    return value.astimezone(dt.UTC)


def vobject_read(body: bytes):
    """vobject's reading of one body on its own, as a calendar app reads each feed it fetches.

    vobject keeps every VTIMEZONE it has read in one process-wide table and never replaces an entry: a feed
    read later in the process is read with the first feed's rules for its zone. Ours carry rules for the
    years around the day they are made, so a feed made in 2030 was read with 2026's (no 2030 clock change:
    every summer time an hour off). The table is vobject's own (no public API clears it); the zones this
    body defines are taken out before reading it.
    """
    text = body.decode("utf-8")
    table = vars(vobject.icalendar)["__tzidMap"]
    for line in text.splitlines():
        if line.startswith("TZID:"):
            table.pop(line.removeprefix("TZID:").strip(), None)
    return vobject.readOne(text)


def parse(body: bytes) -> tuple[dict[str, Event], list[str]]:
    """Events by UID, and every way the two parsers disagree."""
    problems: list[str] = []
    events: dict[str, Event] = {}
    for component in icalendar.Calendar.from_ical(body).walk("VEVENT"):
        uid = str(component["UID"])
        events[uid] = Event(
            uid=uid,
            start=_aware(component.decoded("DTSTART")),
            end=_aware(component.decoded("DTEND")),
            sequence=int(component.get("SEQUENCE", 0)),
            status=str(component.get("STATUS", "")),
            summary=str(component.get("SUMMARY", "")),
        )
    other = vobject_read(body)
    seen = set()
    for component in other.contents.get("vevent", []):
        uid = component.uid.value
        seen.add(uid)
        mine = events.get(uid)
        if mine is None:
            problems.append(f"vobject reads {uid}, icalendar does not")
            continue
        theirs = (_aware(component.dtstart.value), _aware(component.dtend.value), int(component.sequence.value))
        if theirs != (mine.start, mine.end, mine.sequence):
            problems.append(f"{uid}: icalendar reads {mine.start}-{mine.end} #{mine.sequence}, vobject {theirs}")
    problems += [f"icalendar reads {uid}, vobject does not" for uid in sorted(set(events) - seen)]
    return events, problems


def subscribe(feed: Feed) -> None:
    """The owner asks for their URL once (GET /me/feed shows it the first time only)."""
    reply = feed.reader.call("GET", "/api/v1/me/feed")
    assert reply.ok and reply.data.get("url"), f"{feed.reader.name} got no feed URL: {reply.status}"
    feed.path = "/" + reply.data["url"].split("://", 1)[1].split("/", 1)[1]


def poll(feed: Feed) -> tuple[bool, list[str]]:
    """Fetch if changed. Returns whether a new body came, and what the parsers disagreed on."""
    headers = {"If-None-Match": feed.etag} if feed.etag else {}
    reply = feed.reader.call("GET", feed.path, headers=headers)
    if reply.status == 304:
        return False, []
    if reply.status == 404:
        feed.gone, feed.events, feed.text, feed.etag = True, {}, "", None
        return True, []
    if reply.status != 200:
        return False, []
    feed.gone = False
    feed.etag = reply.headers.get("ETag")
    try:
        feed.events, problems = parse(reply.content)
    except Exception as exc:  # noqa: BLE001 (any parser failure is the finding)
        feed.events, problems = {}, [f"a parser failed: {type(exc).__name__}: {exc}"]
    feed.text = unfold(reply.content)
    return True, problems
