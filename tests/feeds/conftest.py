from __future__ import annotations

import datetime as dt

import icalendar
import pytest
from django.utils import timezone

from dispatch import models as m
from dispatch.services.feed_tokens import feed_token_rotate
from dispatch.simulation.feeds import vobject_read
from tests import factories as f


def parse_both(body: bytes) -> tuple[icalendar.Calendar, object]:
    """Every feed must satisfy two independent parsers."""
    return icalendar.Calendar.from_ical(body), vobject_read(body)


def unfolded(body: bytes) -> str:
    """RFC 5545 folds lines at 75 octets, which can split a word: search the unfolded text."""
    return body.replace(b"\r\n ", b"").replace(b"\r\n\t", b"").decode("utf-8")


def events_by_uid(cal: icalendar.Calendar) -> dict[str, icalendar.Event]:
    return {str(e["UID"]): e for e in cal.walk("VEVENT")}


def local_at(days: int, hhmm: str = "10:00") -> dt.datetime:
    day = timezone.localdate(timezone=f.TORONTO) + dt.timedelta(days=days)
    return f.local(day, hhmm)


def scheduled_visit(
    *,
    therapist: m.Therapist,
    start: dt.datetime,
    status: str = m.VisitStatus.SCHEDULED,
    patient: m.Patient | None = None,
    facility: m.Facility | None = None,
    duration_min: int = 45,
    travel_min: int | None = 20,
    **extra,
) -> m.Visit:
    """Test data straight into the table: a visit as booking would leave it."""
    org = therapist.organization
    patient = patient or f.PatientFactory(organization=org, facility=facility)
    end = start + dt.timedelta(minutes=duration_min)
    visit = f.VisitFactory(
        organization=org,
        patient=patient,
        date=start.astimezone(org.tz).date(),
        duration_min=duration_min,
        status=status,
        therapist=therapist,
        planned_start=start,
        planned_end=end,
        planned_busy_until=end + dt.timedelta(minutes=15),
        planned_travel_min=travel_min,
        sequence=1,
        **extra,
    )
    return visit


def backdate_everything(hours: int = 1) -> None:
    """HTTP dates have whole seconds: a change is seen by If-Modified-Since only if it is a second later."""
    earlier = timezone.now() - dt.timedelta(hours=hours)
    for model in (m.Visit, m.Patient, m.Therapist, m.Facility):
        model.objects.update(updated_at=earlier)
    m.Precaution.history.update(history_date=earlier)


@pytest.fixture
def therapist_feed(therapist):
    """(feed token, secret) for the therapist fixture."""
    return feed_token_rotate(therapist=therapist)


@pytest.fixture
def facility_feed(facility):
    return feed_token_rotate(facility=facility)


@pytest.fixture
def home_patient(organization):
    patient = f.PatientFactory(
        organization=organization,
        first_name="Maria",
        last_name="Costa",
        address="12 Elm St, Toronto",
        access_notes="Side door, code 4412",
        diagnosis="Metastatic breast cancer",
        payer="WSIB claim 99",
    )
    m.Precaution.objects.create(patient=patient, kind="device", body_site="left forearm", note="PICC line")
    m.Precaution.objects.create(patient=patient, kind="positioning", note="Semi-reclined only")
    m.Contraindication.objects.create(
        patient=patient,
        kind="dvt",
        note="Old DVT left calf",
        active_from=dt.date(2020, 1, 1),
        active_until=dt.date(2020, 2, 1),
    )
    return patient
