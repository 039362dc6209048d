"""Unassigned visits grouped the way a coordinator decides about them: "12 × no oncology therapist free 9–11".

The optimiser gives one sentence per visit; visits left out for the same cause, needing the same
skills in the same hours, share a label, so sixty requests read as a handful of decisions.
"""
from __future__ import annotations

import datetime as dt
import re
from typing import Any


def _hour(iso: str) -> str:
    t = dt.datetime.fromisoformat(iso)
    return f"{t.hour}" if t.minute == 0 else f"{t.hour}:{t.minute:02d}"


def window_span(windows: list[dict[str, str]]) -> str:
    """The visit's windows in hours, e.g. "9–11" or "10–12, 14–16:30"."""
    return ", ".join(f"{_hour(w['start'])}–{_hour(w['end'])}" for w in windows)


def _who(skills: list[str]) -> str:
    needed = [s for s in skills if s != "hospital-based"]
    return f"{' + '.join(needed)} therapist" if needed else "therapist"


def _parenthesis(reason: str) -> str:
    found = re.search(r"\(([^)]*)\)", reason)
    return f" ({found[1]})" if found else ""


def reason_group(*, code: str, reason: str, visit: dict[str, Any]) -> str:
    span = window_span(visit["windows"])
    who = _who(visit["skills"])
    if "hospital-based" in visit["skills"]:
        who = f"hospital-credentialed {who}"
    labels = {
        "displaced": f"no {who} free {span}",
        "unreachable": f"no {who} can reach it in time {span}",
        "outside_shifts": f"no {who} working {span}",
        "no_skill": f"no {who} on staff",
        "no_eligible_therapist": "no therapist matches the patient's needs",
        "contraindicated": f"ruled out today{_parenthesis(reason)}",
        "no_window": "no window long enough for the session",
        "patient_busy": f"the patient is in another session {span}",
        "referral_expired": "the patient's referral has expired",
        "units_used_up": "the payer's authorised units are used up",
        "not_planned": "not planned yet",
        "planned_not_applied": "placed by the plan waiting to be applied",
        "unbooked": reason.rstrip("."),  # it names whom it was unbooked from
    }
    return labels.get(code, reason.rstrip(".").lower() if reason else code.replace("_", " "))
