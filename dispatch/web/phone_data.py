"""A therapist's day for the phone app: their own visits with what they need at the door and the bedside.

The same content policy as their calendar feed: precautions, access notes and instructions, since the
therapist works with them; never the diagnosis, the referral or a contraindication's note.
"""
from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import quote

from dispatch.models import VisitStatus
from dispatch.selectors import scoping
from dispatch.services.booking import therapist_shifts_on
from dispatch.web.data import local_iso

HIDDEN_STATUSES = (VisitStatus.REQUESTED,)


def navigation_links(*, lat: float, lon: float, label: str) -> dict[str, str]:
    """A geo: URI (Android opens the maps app) and a web maps URL (every phone)."""
    return {
        "geo": f"geo:{lat},{lon}?q={lat},{lon}({quote(label)})",
        "maps": f"https://www.google.com/maps/dir/?api=1&destination={lat},{lon}",
    }


def _visit(v, tz) -> dict[str, Any]:
    patient = v.patient
    return {
        "id": v.pk,
        "status": v.status,
        "status_label": v.get_status_display(),
        "status_reason": v.status_reason,
        "start": local_iso(v.planned_start, tz),
        "end": local_iso(v.planned_end, tz),
        "busy_until": local_iso(v.planned_busy_until, tz),
        "duration_min": v.duration_min,
        "buffer_min": v.effective_buffer_min,
        "travel_min": v.planned_travel_min,
        "travel_km": v.planned_travel_km,
        "patient": patient.initials,
        "care_setting": v.care_setting.label,
        "location": v.location_text,
        "lat": v.lat,
        "lon": v.lon,
        "links": navigation_links(lat=v.lat, lon=v.lon, label=v.location_text),
        "access_notes": patient.access_notes,
        "instructions": v.instructions,
        "precautions": [
            {"kind": p.get_kind_display(), "body_site": p.body_site, "note": p.note} for p in patient.precautions.all()
        ],
        # The kind only: the note is clinical text the therapist does not receive.
        "ruled_out_by": [c.get_kind_display() for c in patient.contraindications.all() if c.active_on(v.date)],
        "windows": [{"start": local_iso(w.start, tz), "end": local_iso(w.end, tz)} for w in v.windows.all()],
        "actual_start": local_iso(v.actual_start, tz),
        "actual_end": local_iso(v.actual_end, tz),
        "delay_min": v.delay_min,
    }


def therapist_day(*, user, day: dt.date) -> dict[str, Any]:
    organization = user.organization
    tz = organization.tz
    therapist = user.therapist
    visits = (
        scoping.visits_visible_to(user).filter(date=day).exclude(status__in=HIDDEN_STATUSES)
        .select_related("patient", "facility")
        .prefetch_related("windows", "patient__precautions", "patient__contraindications")
        .order_by("planned_start", "id")
    )
    shifts = therapist_shifts_on(therapist=therapist, day=day)
    now = dt.datetime.now(tz)
    return {
        "date": day.isoformat(),
        "today": now.date().isoformat(),
        "now": now.isoformat(),
        "timezone": organization.timezone,
        "locale": organization.locale,
        "therapist": {"id": therapist.pk, "name": therapist.display_name},
        "shifts": [{"start": local_iso(s, tz), "end": local_iso(e, tz)} for s, e in shifts],
        "visits": [_visit(v, tz) for v in visits],
    }
