"""What the board draws for a day: therapists with shifts, breaks and visits, facilities, unassigned visits.

Only what a coordinator may see on a screen others can glance at: initials, never intake or diagnosis.
"""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder

from dispatch.models import PlanRun, PlanStatus, Priority, Role, Visit, VisitStatus
from dispatch.selectors import scoping
from dispatch.selectors.live_day import (
    CLOCK_STATES,
    STATUS_STATES,
    WAITING,
    LiveState,
    LiveVisit,
    live_states_hold_until,
    visit_live_states,
)
from dispatch.services.booking import therapist_shifts_on
from dispatch.web.reasons import reason_group

SHOWN_STATUSES = (VisitStatus.SCHEDULED, VisitStatus.CONFIRMED, VisitStatus.IN_PROGRESS, VisitStatus.COMPLETED)
BOOKED_STATUSES = SHOWN_STATUSES
PRIORITY_ORDER = {Priority.URGENT: 0, Priority.SOON: 1, Priority.ROUTINE: 2}


def local_iso(moment: dt.datetime | None, tz) -> str | None:
    return moment.astimezone(tz).isoformat() if moment else None


def _visit(v: Visit, tz) -> dict[str, Any]:
    return {
        "id": v.pk,
        "status": v.status,
        "care_setting": v.care_setting.value,
        "patient": v.patient.initials,
        "location": v.location_text,
        "lat": v.lat,
        "lon": v.lon,
        "duration_min": v.duration_min,
        "buffer_min": v.effective_buffer_min,
        "priority": v.priority,
        "skills": [s.code for s in v.required_skills.all()],
        "windows": [{"start": local_iso(w.start, tz), "end": local_iso(w.end, tz)} for w in v.windows.all()],
        "start": local_iso(v.planned_start, tz),
        "end": local_iso(v.planned_end, tz),
        "busy_until": local_iso(v.planned_busy_until, tz),
        "travel_min": v.planned_travel_min,
        "travel_km": v.planned_travel_km,
        "therapist": v.therapist_id,
        "pinned": v.pinned,
        "actual_start": local_iso(v.actual_start, tz),
        "actual_end": local_iso(v.actual_end, tz),
        "delay_min": v.delay_min,
        "live": None,
        "expected_start": None,
        "late_by_min": 0,
    }


def _planned_breaks(*, organization, day: dt.date) -> dict[int, list[dict[str, str]]]:
    """Breaks as the last applied plan placed them, per therapist; the break rule is only a window."""
    applied = (
        PlanRun.objects.filter(organization=organization, date=day, applied_at__isnull=False)
        .order_by("-applied_at").first()
    )
    routes = (applied.result or {}).get("routes", []) if applied else []
    return {r["therapist_id"]: [{"start": b["start"], "end": b["end"]} for b in r.get("breaks", [])] for r in routes}


def _breaks(*, therapist, day: dt.date, tz, planned: dict[int, list[dict[str, str]]]) -> list[dict[str, Any]]:
    if therapist.pk in planned:
        return [{**b, "planned": True} for b in planned[therapist.pk]]
    at = lambda t: dt.datetime.combine(day, t, tzinfo=tz)  # noqa: E731
    return [
        {"start": at(b.earliest_start).isoformat(),
         "end": (at(b.latest_start) + dt.timedelta(minutes=b.duration_min)).isoformat(),
         "duration_min": b.duration_min, "planned": False}
        for b in therapist.breaks.all()
    ]


NOT_PLANNED_CODE = "not_planned"
NOT_PLANNED = "Not planned yet."
UNBOOKED_CODE = "unbooked"
PENDING_CODE = "planned_not_applied"
PENDING = "Placed by plan {plan}, which is not applied yet."


def _latest_succeeded(*, organization, day: dt.date) -> PlanRun | None:
    return (
        PlanRun.objects.filter(organization=organization, date=day, status=PlanStatus.SUCCEEDED)
        .order_by("-created_at").first()
    )


def _open_reasons(latest: PlanRun | None) -> dict[int, dict[str, str]]:
    """Why each open request is open, as the latest succeeded plan for the day says."""
    if latest is None or not latest.result:
        return {}
    reasons = {u["visit_id"]: {"code": u["code"], "reason": u["reason"]} for u in latest.result.get("unassigned", [])}
    if latest.applied_at is None:
        # A request the pending plan placed is not "not planned": applying it books the visit.
        pending = {"code": PENDING_CODE, "reason": PENDING.format(plan=latest.pk)}
        for route in latest.result.get("routes", []):
            for stop in route.get("stops", []):
                reasons.setdefault(stop["visit_id"], pending)
    return reasons


# What the day's kpis sum of each row, kept beside the row's rendered JSON so that assembling the board adds numbers
# instead of reading every visit again.
ROW_SUMS = ("booked", "shift_min", "held_min", "travel_min", "checked_in", "done")


def _row_sums(row: dict[str, Any]) -> dict[str, float]:
    booked = row["visits"]
    return {
        "booked": len(booked),
        "shift_min": sum(
            (dt.datetime.fromisoformat(s["end"]) - dt.datetime.fromisoformat(s["start"])).total_seconds() / 60
            for s in row["shifts"]
        ),
        "held_min": sum(v["duration_min"] + v["buffer_min"] + (v["travel_min"] or 0) for v in booked),
        "travel_min": sum(v["travel_min"] or 0 for v in booked),
        "checked_in": sum(1 for v in booked if v["live"] == LiveState.CHECKED_IN),
        "done": sum(1 for v in booked if v["live"] == LiveState.DONE),
    }


def _kpis(*, rows: list[dict[str, float]], open_part: OpenPart, today: bool) -> dict[str, Any]:
    """The day at a glance: what is booked, what is open by priority, travel, utilisation, checked in and done.
    Today's late and at-risk counts move with the clock: they are the live overlay's (board_live), not these."""
    total = {name: sum(row[name] for row in rows) for name in ROW_SUMS}
    return {
        "booked": total["booked"],
        "unassigned": open_part.count,
        "unassigned_by_priority": dict(open_part.by_priority),
        "travel_min": total["travel_min"],
        "utilisation_pct": round(100 * total["held_min"] / total["shift_min"]) if total["shift_min"] else None,
        "late": None if today else 0,
        "at_risk": None if today else 0,
        "checked_in": total["checked_in"],
        "done": total["done"],
    }


def _mark_status(row: dict[str, Any]) -> None:
    for v in row["visits"]:
        v["live"] = STATUS_STATES.get(v["status"])


def board_live_visits(live: list[LiveVisit]) -> tuple[LiveVisit, ...]:
    """What today's live marks read of a therapist's day: nothing when no visit is still to start, since only
    those can be late or at risk."""
    return tuple(live) if any(v.status in WAITING for v in live) else ()


@dataclass(frozen=True)
class MarksPart:
    """A therapist's live marks: the JSON members of the overlay's "marks", their counts, and until when they hold
    (None: until the therapist's day changes)."""

    body: bytes
    late: int
    at_risk: int
    until: dt.datetime | None = None

    def holds_at(self, now: dt.datetime) -> bool:
        return self.until is None or now < self.until


NO_MARKS = MarksPart(body=b"", late=0, at_risk=0)


def board_marks_part(visits: tuple[LiveVisit, ...] | None, *, now: dt.datetime) -> MarksPart:
    """Which of a therapist's visits are late or at risk now (and when each running late is expected to start)."""
    if not visits:
        return NO_MARKS
    late_after = dt.timedelta(minutes=settings.ROUNDS_LATE_AFTER_MIN)
    marks = {}
    live_states = visit_live_states(visits=visits, now=now, late_after=late_after)
    until = live_states_hold_until(visits=visits, states=live_states, now=now, late_after=late_after)
    for pk, live in live_states.items():
        if live.state in CLOCK_STATES or live.late_by_min:
            marks[pk] = {"live": live.state, "expected_start": local_iso(live.expected_start, now.tzinfo),
                         "late_by_min": live.late_by_min}
    if not marks:
        return MarksPart(body=b"", late=0, at_risk=0, until=until)
    states = [m["live"] for m in marks.values()]
    # The members without their braces, so that the overlay joins every therapist's into one object.
    return MarksPart(body=_json(marks)[1:-1], late=states.count(LiveState.LATE),
                     at_risk=states.count(LiveState.AT_RISK), until=until)


def board_live(*, day: dt.date, now: dt.datetime, marks: list[MarksPart | None]) -> bytes:
    """What moves with the clock on a day's board: which visits are late or at risk now (and when each visit
    running late is expected to start), their counts, and the time for the now line. Small, so that an open
    board asks for it each minute while the board's data, which moves only with the data, is a 304. Each
    therapist's marks are made apart (board_marks_part), so that a check-in makes one therapist's again."""
    shown = [part for part in marks if part is not None and part.body] if day == now.date() else []
    head = _json({"date": day.isoformat(), "today": now.date().isoformat(), "now": now.isoformat()})
    kpis = {"late": sum(part.late for part in shown), "at_risk": sum(part.at_risk for part in shown)}
    return b"".join([
        head[:-1], b', "marks": {', b", ".join(part.body for part in shown), b'}, "kpis": ', _json(kpis), b"}",
    ])


def _pending_plan(latest: PlanRun | None) -> dict[str, Any] | None:
    if latest is None or latest.applied_at is not None or not latest.result:
        return None
    return {"id": latest.pk, "kind": latest.kind, "created_at": latest.created_at.isoformat()}


def board_roster(*, user) -> list[int]:
    """The board's rows, in its order: the therapists the user may see; board_rows leaves out those switched off,
    unless they still hold visits that day."""
    return list(scoping.therapists_visible_to(user).order_by("display_name").values_list("pk", flat=True))


BoardRow = tuple[dict[str, Any], list[LiveVisit]]


def board_rows(*, user, day: dt.date, therapist_ids: list[int]) -> dict[int, BoardRow]:
    """These therapists' rows, in one batch of queries: shifts, breaks and booked visits, and what the live marks
    read of the visits (marked by the live overlay each minute, as the clock moves)."""
    organization = user.organization
    tz = organization.tz
    planned = _planned_breaks(organization=organization, day=day)
    therapists = (
        scoping.therapists_visible_to(user).filter(pk__in=therapist_ids).select_related("organization")
        .prefetch_related("weekly_availability", "availability_exceptions", "breaks")
    )
    visits = (
        scoping.visits_visible_to(user).filter(date=day, therapist_id__in=therapist_ids, status__in=SHOWN_STATUSES)
        .select_related("patient", "facility").prefetch_related("windows", "required_skills")
        .order_by("planned_start", "id")
    )
    rows: dict[int, BoardRow] = {}
    for t in therapists:
        shifts = therapist_shifts_on(therapist=t, day=day)
        rows[t.pk] = ({
            "id": t.pk, "name": t.display_name, "home": {"lat": t.home_lat, "lon": t.home_lon},
            "shifts": [{"start": s.astimezone(tz).isoformat(), "end": e.astimezone(tz).isoformat()} for s, e in shifts],
            # No shift, no break: a day off shows an empty row.
            "breaks": _breaks(therapist=t, day=day, tz=tz, planned=planned) if shifts else [],
            "visits": [],
        }, [])
    for v in visits:
        if v.therapist_id in rows:
            row, live = rows[v.therapist_id]
            row["visits"].append(_visit(v, tz))
            live.append(LiveVisit.of(v))
    # A therapist switched off with visits still booked on them keeps a row until those are moved: without it the
    # visits would be on no row and among no open requests, gone from the board while still booked (as /schedule).
    inactive = {t.pk for t in therapists if not t.active}
    return {pk: row for pk, row in rows.items() if pk not in inactive or row[0]["visits"]}


def board_open(*, user, day: dt.date) -> dict[str, Any]:
    """What the board shows beside the rows: the day's open requests and why each is open, the facilities, the
    plan waiting to be applied (for coordinators; a therapist's board has none of these)."""
    if user.role != Role.COORDINATOR:
        return {"unassigned": [], "facilities": [], "pending_plan": None}
    organization = user.organization
    tz = organization.tz
    requested = (
        scoping.visits_visible_to(user).filter(date=day, status=VisitStatus.REQUESTED)
        .select_related("patient", "facility").prefetch_related("windows", "required_skills")
        .order_by("planned_start", "id")
    )
    latest = _latest_succeeded(organization=organization, day=day)
    reasons = _open_reasons(latest)
    unassigned = []
    for visit in requested:
        v = _visit(visit, tz)
        why = reasons.get(v["id"], {"code": NOT_PLANNED_CODE, "reason": NOT_PLANNED})
        if visit.status_reason and (latest is None or latest.finished_at is None or visit.updated_at > latest.finished_at):
            # Sent back to the requests since the plan ran (switched-off therapist, a day run late): that is why.
            why = {"code": UNBOOKED_CODE, "reason": visit.status_reason}
        unassigned.append({**v, **why, "group": reason_group(code=why["code"], reason=why["reason"], visit=v)})
    # What is most urgent first, then what must happen soonest.
    unassigned.sort(key=lambda v: (PRIORITY_ORDER[v["priority"]], min((w["start"] for w in v["windows"]), default=""),
                                   v["id"]))
    facilities = [
        {"id": f.pk, "name": f.name, "kind": f.kind, "lat": f.lat, "lon": f.lon}
        for f in scoping.facilities_visible_to(user)
    ]
    return {"unassigned": unassigned, "facilities": facilities, "pending_plan": _pending_plan(latest)}


def _json(value: Any) -> bytes:
    # As JsonResponse writes it, so the board reads the same document as before its parts were kept rendered.
    return json.dumps(value, cls=DjangoJSONEncoder).encode()


@dataclass(frozen=True)
class RowPart:
    """A therapist's row as the board sends it (JSON), and what the kpis sum of it."""

    body: bytes
    sums: dict[str, float]


@dataclass(frozen=True)
class OpenPart:
    """The day's open requests, the facilities (both as JSON) and the plan waiting to be applied."""

    unassigned: bytes
    facilities: bytes
    count: int
    by_priority: tuple[tuple[str, int], ...]
    pending_plan: dict[str, Any] | None


def board_row_part(row: dict[str, Any], *, today: bool) -> RowPart:
    """A row kept rendered: a 500-therapist day is 1.3 MB of JSON, too costly to read back and write out again on
    every change (a check-in builds one row). Today's visits are marked checked in or done from their status."""
    if today:
        _mark_status(row)
    return RowPart(body=_json(row), sums=_row_sums(row))


def board_open_part(open_part: dict[str, Any]) -> OpenPart:
    by_priority = {p.value: 0 for p in Priority}
    for v in open_part["unassigned"]:
        by_priority[v["priority"]] += 1
    return OpenPart(
        unassigned=_json(open_part["unassigned"]), facilities=_json(open_part["facilities"]),
        count=len(open_part["unassigned"]), by_priority=tuple(by_priority.items()),
        pending_plan=open_part["pending_plan"],
    )


def board_assemble(*, user, day: dt.date, rows: list[RowPart | None], open_part: OpenPart) -> bytes:
    """The board's JSON from its rows (in order; None for a row no longer shown) and the rest. Nothing in it moves
    with the clock but the date, so it is the same until the data changes: today's visits are marked late or at
    risk by the live overlay (board_live)."""
    organization = user.organization
    today = dt.datetime.now(organization.tz).date()
    shown = [row for row in rows if row is not None]
    head = _json({
        "date": day.isoformat(),
        "timezone": organization.timezone,
        "locale": organization.locale,
        "today": today.isoformat(),
        "role": user.role,
        "late_after_min": settings.ROUNDS_LATE_AFTER_MIN,
    })
    kpis = _kpis(rows=[row.sums for row in shown], open_part=open_part, today=day == today)
    return b"".join([
        head[:-1], b', "therapists": [', b", ".join(row.body for row in shown), b"]",
        b', "unassigned": ', open_part.unassigned, b', "facilities": ', open_part.facilities,
        b', "kpis": ', _json(kpis), b', "pending_plan": ', _json(open_part.pending_plan), b"}",
    ])
