"""What the board draws for a day: therapists with shifts, breaks and visits, facilities, unassigned visits.

Only what a coordinator may see on a screen others can glance at: initials, never intake or diagnosis.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from dispatch.models import PlanRun, PlanStatus, Role, Visit, VisitStatus
from dispatch.selectors import scoping
from dispatch.services.booking import therapist_shifts_on

SHOWN_STATUSES = (VisitStatus.SCHEDULED, VisitStatus.CONFIRMED, VisitStatus.IN_PROGRESS, VisitStatus.COMPLETED)


def _visit(v: Visit, tz) -> dict[str, Any]:
    def local(moment):
        return moment.astimezone(tz).isoformat() if moment else None

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
        "windows": [{"start": local(w.start), "end": local(w.end)} for w in v.windows.all()],
        "start": local(v.planned_start),
        "end": local(v.planned_end),
        "busy_until": local(v.planned_busy_until),
        "travel_min": v.planned_travel_min,
        "travel_km": v.planned_travel_km,
        "therapist": v.therapist_id,
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
PENDING_CODE = "planned_not_applied"
PENDING = "Placed by plan {plan}, which is not applied yet."


def _open_reasons(*, organization, day: dt.date) -> dict[int, dict[str, str]]:
    """Why each open request is open, as the latest succeeded plan for the day says."""
    latest = (
        PlanRun.objects.filter(organization=organization, date=day, status=PlanStatus.SUCCEEDED)
        .order_by("-created_at").first()
    )
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


def board_day(*, user, day: dt.date) -> dict[str, Any]:
    tz = user.organization.tz
    planned = _planned_breaks(organization=user.organization, day=day)
    therapists = (
        scoping.therapists_visible_to(user).filter(active=True).select_related("organization")
        .prefetch_related("weekly_availability", "availability_exceptions", "breaks").order_by("display_name")
    )
    visits = (
        scoping.visits_visible_to(user).filter(date=day)
        .select_related("patient", "facility").prefetch_related("windows", "required_skills")
        .order_by("planned_start", "id")
    )
    rows = {}
    for t in therapists:
        shifts = therapist_shifts_on(therapist=t, day=day)
        rows[t.pk] = {
            "id": t.pk, "name": t.display_name, "home": {"lat": t.home_lat, "lon": t.home_lon},
            "shifts": [{"start": s.astimezone(tz).isoformat(), "end": e.astimezone(tz).isoformat()} for s, e in shifts],
            # No shift, no break: a day off shows an empty row.
            "breaks": _breaks(therapist=t, day=day, tz=tz, planned=planned) if shifts else [],
            "visits": [],
        }
    requested = []
    for v in visits:
        if v.status in SHOWN_STATUSES and v.therapist_id in rows:
            rows[v.therapist_id]["visits"].append(_visit(v, tz))
        elif v.status == VisitStatus.REQUESTED:
            requested.append(_visit(v, tz))
    reasons = _open_reasons(organization=user.organization, day=day) if user.role == Role.COORDINATOR else {}
    unassigned = [
        {**v, **reasons.get(v["id"], {"code": NOT_PLANNED_CODE, "reason": NOT_PLANNED})}
        for v in requested
    ] if user.role == Role.COORDINATOR else []
    facilities = [
        {"id": f.pk, "name": f.name, "kind": f.kind, "lat": f.lat, "lon": f.lon}
        for f in scoping.facilities_visible_to(user)
    ] if user.role == Role.COORDINATOR else []
    return {
        "date": day.isoformat(),
        "timezone": user.organization.timezone,
        "today": dt.datetime.now(tz).date().isoformat(),
        "now": dt.datetime.now(tz).isoformat(),
        "role": user.role,
        "therapists": list(rows.values()),
        "unassigned": unassigned,
        "facilities": facilities,
    }
