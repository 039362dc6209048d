from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
import time_machine
from django.core import mail

from dispatch import models as m
from dispatch.notifications.sms import LocmemSmsBackend
from dispatch.services.booking import visit_book
from tests import factories as f

# A fixed Tuesday: tests travel to a minute of it with time-machine.
DAY = dt.date(2031, 3, 4)


def at(hhmm: str, day: dt.date = DAY) -> dt.datetime:
    """09:30 or 09:30:15 on ``day`` in the organisation's time zone."""
    hh, mm, *ss = (int(part) for part in hhmm.split(":"))
    return dt.datetime.combine(day, dt.time(hh, mm, *ss), tzinfo=f.TORONTO)


def travel(hhmm: str, day: dt.date = DAY, tick: bool = False):
    return time_machine.travel(at(hhmm, day), tick=tick)


@pytest.fixture(autouse=True)
def _empty_outboxes():
    LocmemSmsBackend.outbox.clear()
    mail.outbox = []
    yield
    LocmemSmsBackend.outbox.clear()


def in_app(user) -> list[m.Notification]:
    return list(m.Notification.objects.filter(recipient=user, channel=m.Channel.IN_APP))


def emails_to(user) -> list:
    return [message for message in mail.outbox if user.email in message.to]


@dataclass
class Ward:
    """One organisation's day: T1 with a home visit and a ward visit, T2 with a confirmed visit of their own."""

    org: m.Organization
    coordinator: m.User
    t1: m.Therapist
    t2: m.Therapist
    facility: m.Facility
    asker: m.User  # facility staff who requested the ward visit
    colleague: m.User  # same facility, asked for nothing
    home: m.Visit
    ward: m.Visit
    t2_visit: m.Visit


def booked(*, therapist, patient, hhmm: str, day: dt.date = DAY, requested_by=None, windows=(("08:00", "16:00"),)):
    visit = f.VisitFactory(
        organization=therapist.organization, patient=patient, date=day, windows=list(windows),
        requested_by=requested_by,
    )
    return visit_book(visit=visit, therapist=therapist, planned_start=at(hhmm, day))


@pytest.fixture
def ward(organization) -> Ward:
    coordinator = f.UserFactory(organization=organization)
    t1, t2 = f.TherapistFactory(organization=organization), f.TherapistFactory(organization=organization)
    facility = f.FacilityFactory(organization=organization)
    asker = f.FacilityStaffFactory(organization=organization, facility=facility)
    colleague = f.FacilityStaffFactory(organization=organization, facility=facility)
    # Next door to the ward: the 15 minutes between the two visits hold the check-in, not a drive across town.
    home_patient = f.PatientFactory(organization=organization, lat=facility.lat, lon=facility.lon)
    ward_patient = f.PatientFactory(organization=organization, facility=facility, room="4", bed="B")
    for patient in (home_patient, ward_patient):
        patient.excluded_therapists.add(t2)  # so a re-plan can only move T1's visits, not hand them to T2
    with travel("07:00"):
        home = booked(therapist=t1, patient=home_patient, hhmm="10:40")
        ward_visit = booked(therapist=t1, patient=ward_patient, hhmm="11:30", requested_by=asker)
        # At T2's door: a re-plan at 10:00 (T2 still at home, as far as it knows) can still keep it.
        t2_patient = f.PatientFactory(organization=organization, lat=t2.home_lat, lon=t2.home_lon)
        t2_visit = booked(therapist=t2, patient=t2_patient, hhmm="10:00")
        from dispatch.services.visit_status import visit_transition

        t2_visit = visit_transition(visit=t2_visit, target=m.VisitStatus.CONFIRMED)
    m.Notification.objects.all().delete()  # what booking the fixture told is not what the tests look at
    m.WebhookDelivery.objects.all().delete()
    mail.outbox = []
    return Ward(organization, coordinator, t1, t2, facility, asker, colleague, home, ward_visit, t2_visit)
