"""A facility's request page: its own patients and their visits, nothing of other facilities.

The therapist appears by first name only, as in the facility's calendar feed.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import F

from dispatch.models import Priority, Skill, VisitStatus
from dispatch.selectors import scoping

PAST_DAYS_SHOWN = 7


def _hhmm(moment: dt.datetime | None, tz) -> str:
    return moment.astimezone(tz).strftime("%H:%M") if moment else ""


def facility_page(*, user) -> dict[str, Any]:
    tz = user.organization.tz
    today = dt.datetime.now(tz).date()
    patients = scoping.patients_visible_to(user).filter(active=True).order_by("last_name", "first_name")
    visits = (
        scoping.visits_visible_to(user).filter(date__gte=today - dt.timedelta(days=PAST_DAYS_SHOWN))
        .select_related("patient", "therapist").prefetch_related("windows", "required_skills")
        # Within a day, what is booked in time order first, then the requests still waiting for a time.
        .order_by("date", F("planned_start").asc(nulls_last=True), "id")
    )
    rows = []
    for v in visits:
        windows = [{"start": _hhmm(w.start, tz), "end": _hhmm(w.end, tz)} for w in v.windows.all()]
        rows.append({
            "id": v.pk,
            "patient_id": v.patient_id,
            "patient": f"{v.patient.first_name} {v.patient.last_name}",
            "date": v.date.isoformat(),
            "status": v.status,
            "status_label": v.get_status_display(),
            "status_reason": v.status_reason,
            "planned": f"{_hhmm(v.planned_start, tz)}–{_hhmm(v.planned_end, tz)}" if v.planned_start else "",
            "windows": windows,
            "windows_text": ", ".join(f"{w['start']}–{w['end']}" for w in windows),
            "therapist": v.therapist.display_name.split()[0] if v.therapist_id else "",
            "duration_min": v.duration_min,
            "priority": v.priority,
            "priority_label": v.get_priority_display(),
            "skills": [s.code for s in v.required_skills.all()],
            "instructions": v.instructions,
            "editable": v.status == VisitStatus.REQUESTED,
            "upcoming": v.date >= today,
        })
    return {
        "facility": user.facility,
        "timezone": user.organization.timezone,
        "today": today,
        "patients": [
            {"id": p.pk, "name": f"{p.first_name} {p.last_name}", "room": f"{p.room}{p.bed}"} for p in patients
        ],
        "visits": rows,
        "skills": list(Skill.objects.order_by("code").values("code", "name")),
        "priorities": Priority.choices,
    }
