"""What a re-plan proposal changes, per visit and in words a coordinator reads.

Each row carries the visit's old and new therapist, start and end (the board draws the proposal
over the current plan from them), the rule that forced the change and a sentence: "Amara's visit
at 11:35 with L.H. moves to 12:10: Amara is running 25 min late." Counts and the therapists and
facilities affected come with it; ``replan_affected`` gives the latter to whoever tells them.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dispatch.models import Facility, Therapist, Visit

if TYPE_CHECKING:
    from dispatch.models import PlanRun

KINDS = ("moved", "reassigned", "dropped", "added")
# Why a visit changed; the optimiser's rules (optimizer.warm_start) and the re-plan's own.
BECAUSE = {
    "absent": "{name} is not working any more today",
    "not_eligible": "{name} may no longer see this patient",
    "window": "with {name} it would start after its window closes at {at}",
    "shift": "{name}'s day ends at {at}",
    "break": "{name}'s break or time off is due by {at}",
    "pinned": "its pinned time {at} can no longer be met",
    "limit": "{name}'s day is full (visit count or working time)",
    "late": "{name} is running {delay} min late (free from {free})",
    "free_later": "{name} is free only from {free}",
    "follows": "{name}'s earlier visits moved",
    "make_room": "it makes room for {rehomed}",
    "request": "it fits into free time in {name}'s day",
    "rearranged": "the rest of the day was re-planned around the changes",
}


@dataclass(frozen=True)
class ReplanAffected:
    """Who an applied re-plan concerns: every therapist losing, gaining or moving a visit, and its facilities."""

    therapists: list[Therapist]
    facilities: list[Facility]


def replan_affected(*, run: PlanRun) -> ReplanAffected:
    """The therapists and facilities a re-plan changes (from its stored diff: the same before and after apply)."""
    affected = ((run.result or {}).get("diff") or {}).get("affected") or {}
    return ReplanAffected(
        therapists=list(Therapist.objects.filter(pk__in=affected.get("therapists", [])).order_by("pk")),
        facilities=list(Facility.objects.filter(pk__in=affected.get("facilities", [])).order_by("pk")),
    )


def replan_diff(*, run: PlanRun, visits: list[Visit], midnight: dt.datetime) -> dict[str, Any]:
    """The proposal's changes against the plan the run read, with words, counts and who is affected."""
    result = run.result
    info = result.get("replan", {})
    tz = run.organization.tz
    names = {
        t.pk: t.display_name.split(" ")[0]
        for t in Therapist.objects.filter(organization=run.organization).only("pk", "display_name")
    }
    placed = {
        int(stop["visit_id"]): (int(route["therapist_id"]), stop["start_min"], stop["end_min"])
        for route in result["solution"].get("routes", [])
        for stop in route["stops"]
    }
    unassigned = {int(u["visit_id"]): u for u in result.get("unassigned", [])}
    ctx = _Context(
        run=run, info=info, names=names, midnight=midnight, tz=tz, visits={v.pk: v for v in visits}, placed=placed
    )
    diff: dict[str, Any] = {kind: [] for kind in KINDS}
    diff["conflicts"] = []
    for visit in visits:
        row = ctx.row(visit, placed.get(visit.pk))
        if row is None:
            if visit.therapist_id is not None and visit.pk in unassigned:
                row = ctx.dropped(visit, unassigned[visit.pk])
            elif str(visit.pk) not in info.get("conflicts", {}):
                continue
        if row is not None:
            diff[row["kind"]].append(row)
        if str(visit.pk) in info.get("conflicts", {}):
            diff["conflicts"].append(ctx.conflict(visit, placed.get(visit.pk)))
    diff["counts"] = _counts(diff, info, result)
    diff["affected"] = _affected(diff, ctx.visits)
    diff["scope"] = info.get("scope")
    diff["summary"] = _summary(diff, info, names)
    return diff


@dataclass
class _Context:
    run: PlanRun
    info: dict[str, Any]
    names: dict[int, str]
    midnight: dt.datetime
    tz: Any
    visits: dict[int, Visit]
    placed: dict[int, tuple[int, int, int]]  # visit id -> (therapist id, start, end) in the proposal

    def at(self, minutes: int) -> dt.datetime:
        return self.midnight + dt.timedelta(minutes=minutes)

    def hhmm(self, moment: dt.datetime | None) -> str:
        return moment.astimezone(self.tz).strftime("%H:%M") if moment else ""

    def iso(self, moment: dt.datetime | None) -> str | None:
        return moment.astimezone(self.tz).isoformat() if moment else None

    def name(self, therapist_id: int | None) -> str:
        return self.names.get(therapist_id, f"therapist {therapist_id}") if therapist_id else "nobody"

    def row(self, visit: Visit, new: tuple[int, int, int] | None) -> dict[str, Any] | None:
        if new is None:
            return None
        therapist_id, start_min, end_min = new
        start, end = self.at(start_min), self.at(end_min)
        booked = visit.therapist_id is not None and visit.planned_start is not None
        if booked and therapist_id == visit.therapist_id and start == visit.planned_start:
            return None
        kind = "added" if not booked else "reassigned" if therapist_id != visit.therapist_id else "moved"
        row = self._base(visit, kind)
        row |= {"new_therapist": therapist_id, "new_start": self.iso(start), "new_end": self.iso(end)}
        rule, because = self.because(visit, kind, therapist_id)
        initials, name = visit.patient.initials, self.name(therapist_id)
        if kind == "added":
            row |= {"therapist": therapist_id, "start": row["new_start"]}
            text = f"{name} takes the request for {initials} at {self.hhmm(start)}"
        elif kind == "reassigned":
            row |= {"from_therapist": visit.therapist_id, "to_therapist": therapist_id}
            old = self.hhmm(visit.planned_start)
            text = f"{name} takes {initials}'s {old} visit from {self.name(visit.therapist_id)}"
            text += f", at {self.hhmm(start)}" if self.hhmm(start) != old else ""
        else:
            row["therapist"] = therapist_id
            text = (
                f"{self.name(visit.therapist_id)}'s visit at {self.hhmm(visit.planned_start)} with {initials} "
                f"moves to {self.hhmm(start)}"
            )
        return row | {"rule": rule, "because": because, "text": f"{text}: {because}."}

    def dropped(self, visit: Visit, unassigned: dict[str, Any]) -> dict[str, Any]:
        row = self._base(visit, "dropped")
        broken = self.info.get("broken", {}).get(str(visit.pk))
        if broken is not None:
            # Why it could not stay, then why nobody else took it.
            rule, because = self.because(visit, "dropped", None)
            why = f"{because}. {unassigned['reason']}"
        else:
            rule, because = unassigned["code"], unassigned["reason"].rstrip(".")
            why = unassigned["reason"]
        text = (
            f"{visit.patient.initials}'s {self.hhmm(visit.planned_start)} visit with {self.name(visit.therapist_id)} "
            f"is left unassigned: {why}"
        )
        return row | {
            "therapist": visit.therapist_id, "new_therapist": None, "new_start": None, "new_end": None,
            "code": unassigned["code"], "reason": unassigned["reason"], "rule": rule, "because": because, "text": text,
        }

    def conflict(self, visit: Visit, new: tuple[int, int, int] | None) -> dict[str, Any]:
        rule = self.info["conflicts"][str(visit.pk)]
        broken = self.info.get("broken", {}).get(str(visit.pk), {})
        because = self._words(rule, visit.therapist_id, broken.get("at_min"))
        pinned_to = f"{self.name(visit.therapist_id)} at {self.hhmm(visit.planned_start)}"
        if new is None:
            proposal = "no therapist can take it, so the proposal leaves it as it is"
        else:
            proposal = f"proposed: {self.name(new[0])} at {self.hhmm(self.at(new[1]))}"
        row = self._base(visit, "conflict")
        return row | {
            "new_therapist": new[0] if new else None,
            "new_start": self.iso(self.at(new[1])) if new else None,
            "new_end": self.iso(self.at(new[2])) if new else None,
            "rule": rule,
            "because": because,
            "text": f"{visit.patient.initials}'s visit pinned to {pinned_to} cannot stay pinned: {because}; "
            f"{proposal}. Your decision.",
        }

    def _base(self, visit: Visit, kind: str) -> dict[str, Any]:
        return {
            "kind": kind,
            "visit": visit.pk,
            "patient_initials": visit.patient.initials,
            "facility": visit.facility_id,
            "old_therapist": visit.therapist_id,
            "old_start": self.iso(visit.planned_start),
            "old_end": self.iso(visit.planned_end),
        }

    def because(self, visit: Visit, kind: str, new_therapist: int | None) -> tuple[str, str]:
        """The rule that forced this change, and its words."""
        broken = self.info.get("broken", {}).get(str(visit.pk))
        if broken is not None:
            return broken["rule"], self._words(broken["rule"], broken["therapist"], broken.get("at_min"))
        therapist = new_therapist or visit.therapist_id
        if kind == "added":
            rule = "make_room" if visit.pk in self.info.get("rehomed", []) else "request"
            return rule, self._words(rule, therapist, None)
        local = set(self.info.get("local_therapists", []))
        if therapist in local:
            now = next((s for s in self.run.result.get("therapists_now", []) if s["therapist_id"] == therapist), None)
            if now and now.get("delay_until_min") and now["delay_until_min"] >= now["free_from_min"]:
                return "late", self._words("late", therapist, now["free_from_min"], delay=now["delay_min"])
            if now and self._first_moved(visit):
                return "free_later", self._words("free_later", therapist, now["free_from_min"])
            return "follows", self._words("follows", therapist, None)
        if self.info.get("scope") == "all":
            return "rearranged", self._words("rearranged", therapist, None)
        return "make_room", self._words("make_room", therapist, None)

    def _first_moved(self, visit: Visit) -> bool:
        """Whether ``visit`` is the therapist's first booked visit still to come (it moves for their own time)."""
        own = [v for v in self.visits.values() if v.therapist_id == visit.therapist_id and v.planned_start]
        return bool(own) and min(own, key=lambda v: v.planned_start).pk == visit.pk

    def _words(self, rule: str, therapist: int | None, at_min: int | None, *, delay: int = 0) -> str:
        # The visits that came to this therapist's route from elsewhere.
        rehomed = [
            self.visits[v]
            for v in self.info.get("rehomed", [])
            if v in self.visits and self.placed.get(v, (None,))[0] == therapist
        ]
        moved_here = ", ".join(f"{v.patient.initials}'s visit" for v in rehomed) or "the changes"
        template = BECAUSE.get(rule, "{name}'s day changed")
        at = self.hhmm(self.at(at_min)) if at_min is not None else ""
        return template.format(name=self.name(therapist), at=at, free=at, delay=delay, rehomed=moved_here)


def _counts(diff: dict[str, Any], info: dict[str, Any], result: dict[str, Any]) -> dict[str, Any]:
    local = set(info.get("local_therapists", []))
    disturbed = [
        row for kind in ("moved", "reassigned", "dropped") for row in diff[kind] if row["old_therapist"] not in local
    ]
    travel_now = info.get("current_travel_min")
    travel_new = result.get("solution", {}).get("kpis", {}).get("travel_min")
    return {
        **{kind: len(diff[kind]) for kind in KINDS},
        "conflicts": len(diff["conflicts"]),
        "booked_unbooked": len(diff["dropped"]),
        "others_disturbed": len(disturbed),
        "travel_added_min": round(travel_new - travel_now, 1) if None not in (travel_now, travel_new) else None,
    }


def _affected(diff: dict[str, Any], visits: dict[int, Visit]) -> dict[str, list[int]]:
    rows = [row for kind in (*KINDS, "conflicts") for row in diff[kind]]
    therapists = {t for row in rows for t in (row.get("old_therapist"), row.get("new_therapist")) if t}
    facilities = {row["facility"] for row in rows if row.get("facility")}
    return {"therapists": sorted(therapists), "facilities": sorted(facilities)}


def _summary(diff: dict[str, Any], info: dict[str, Any], names: dict[int, str]) -> list[str]:
    counts = diff["counts"]
    local = [names.get(t, str(t)) for t in info.get("local_therapists", [])]
    scope = info.get("scope")
    if scope == "local":
        first = f"Only {', '.join(local)}'s day changes." if local else "Nobody's day changes."
    elif scope in ("nearby", "further"):
        first = f"{', '.join(local) or 'The reporting therapist'} could not keep every visit; others take only those."
    else:
        first = "The whole rest of the day was open to the re-plan."
    travel = counts["travel_added_min"]
    totals = (
        f"{counts['moved']} moved, {counts['reassigned']} reassigned, {counts['dropped']} unbooked, "
        f"{counts['added']} added, {counts['conflicts']} to decide"
        + (f"; travel {travel:+.0f} min." if travel is not None else ".")
    )
    rows = [row["text"] for kind in ("conflicts", *KINDS) for row in diff[kind]]
    return [first, totals, *rows]
