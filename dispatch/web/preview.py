"""What applying a plan or re-plan would change on the board, visit by visit and in words.

Compares the run's routes with the visits as they stand now: moved (same therapist, other time),
reassigned (another therapist), unbooked (booked now, left out by the plan) and added (a request the
plan books). The board draws the new places as ghost blocks and asks before applying, saying how
many booked visits would be unbooked.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from dispatch.models import PlanRun, Therapist, Visit, VisitStatus
from dispatch.web.data import local_iso

BOOKED = (VisitStatus.SCHEDULED, VisitStatus.CONFIRMED)
KIND_ORDER = {"unbooked": 0, "reassigned": 1, "moved": 2, "added": 3}


def _hhmm(iso: str | None) -> str:
    return dt.datetime.fromisoformat(iso).strftime("%H:%M") if iso else ""


def _first(name: str) -> str:
    return name.split()[0] if name else "?"


def _words(kind: str, *, who: str, old: dict | None, new: dict | None, reason: str = "") -> str:
    if kind == "moved":
        with_whom = _first(old["therapist_name"])
        return f"{who}'s {_hhmm(old['start'])} visit with {with_whom} moves to {_hhmm(new['start'])}."
    if kind == "reassigned":
        return (
            f"{_first(new['therapist_name'])} takes {who}'s {_hhmm(old['start'])} visit "
            f"from {_first(old['therapist_name'])}, at {_hhmm(new['start'])}."
        )
    if kind == "unbooked":
        why = f": {reason}" if reason else "."
        return f"{who}'s {_hhmm(old['start'])} visit with {_first(old['therapist_name'])} is unbooked{why}"
    return f"{_first(new['therapist_name'])} takes {who}'s new visit at {_hhmm(new['start'])}."


def _texts_from_result(result: dict[str, Any]) -> dict[int, str]:
    """A re-plan whose diff already says each change in words keeps its own words."""
    texts: dict[int, str] = {}
    for entries in (result.get("diff") or {}).values():
        for entry in entries if isinstance(entries, list) else []:
            if isinstance(entry, dict) and entry.get("text") and entry.get("visit") is not None:
                texts[int(entry["visit"])] = entry["text"]
    return texts


def plan_preview(*, run: PlanRun) -> dict[str, Any]:
    tz = run.organization.tz
    result = run.result or {}
    names = dict(Therapist.objects.filter(organization=run.organization).values_list("pk", "display_name"))
    placed = {
        int(stop["visit_id"]): {
            "therapist": int(route["therapist_id"]), "therapist_name": names.get(int(route["therapist_id"]), ""),
            "start": stop["start"], "end": stop["end"],
        }
        for route in result.get("routes", [])
        for stop in route.get("stops", [])
    }
    reasons = {int(u["visit_id"]): u.get("reason", "") for u in result.get("unassigned", [])}
    texts = _texts_from_result(result)
    ids = [int(pk) for pk in run.input_sequences] or list(placed)
    visits = Visit.objects.filter(organization=run.organization, pk__in=set(ids) | set(placed)).select_related("patient")
    where = {v.pk: [float(v.lat), float(v.lon)] for v in visits}
    # The proposed routes for the map: each therapist's stops in the order the plan drives them.
    routes = [
        {"therapist": int(route["therapist_id"]), "stops": [where[int(s["visit_id"])] for s in route["stops"]]}
        for route in result.get("routes", [])
        if route.get("stops") and all(int(s["visit_id"]) in where for s in route["stops"])
    ]
    changes: list[dict[str, Any]] = []
    for v in visits.order_by("planned_start", "id"):
        old = None
        if v.therapist_id is not None and v.planned_start is not None:
            old = {
                "therapist": v.therapist_id, "therapist_name": names.get(v.therapist_id, ""),
                "start": local_iso(v.planned_start, tz), "end": local_iso(v.planned_end, tz),
            }
        new = placed.get(v.pk)
        if old and new:
            if new["therapist"] != old["therapist"]:
                kind = "reassigned"
            elif dt.datetime.fromisoformat(new["start"]) != v.planned_start:
                kind = "moved"
            else:
                continue
        elif old and v.status in BOOKED:
            kind = "unbooked"
        elif new and not old:
            kind = "added"
        else:
            continue
        who = v.patient.initials
        changes.append({
            "visit": v.pk, "patient": who, "kind": kind, "status": v.status, "old": old, "new": new,
            "text": texts.get(v.pk) or _words(kind, who=who, old=old, new=new, reason=reasons.get(v.pk, "")),
        })
    # What costs a patient their booked time first, then what changes for the therapists, then what is new.
    changes.sort(key=lambda c: (KIND_ORDER[c["kind"]], (c["new"] or c["old"])["start"], c["visit"]))
    counts = {kind: sum(1 for c in changes if c["kind"] == kind) for kind in KIND_ORDER}
    return {
        "plan": run.pk, "kind": run.kind, "date": run.date.isoformat(), "applied": run.applied_at is not None,
        "counts": counts, "changes": changes, "kpis": result.get("kpis", {}), "routes": routes,
    }
