"""One organisation with every role, and a second organisation, for the access matrix."""
from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from rest_framework.test import APIClient

from dispatch.models import Skill, VisitStatus
from tests import factories as f
from tests.clients import signed_in


@dataclass
class World:
    org: object
    coordinator: object
    therapist: object
    other_therapist: object
    facility_x: object
    facility_y: object
    staff_x: object
    staff_y: object
    patient_x: object
    patient_y: object
    patient_home: object
    visit_x: object
    visit_y: object
    visit_home: object
    other_coordinator: object
    clients: dict = field(default_factory=dict)


def _client(user) -> APIClient:
    """Signed in as API clients are: a token from the login route in the Authorization header."""
    return APIClient() if user is None else signed_in(user)


def _scheduled(visit, therapist, start="09:00", end="09:30"):
    visit.therapist = therapist
    visit.planned_start = f.local(visit.date, start)
    visit.planned_end = f.local(visit.date, end)
    visit.planned_busy_until = visit.planned_end
    visit.status = VisitStatus.SCHEDULED
    visit.save()
    return visit


@pytest.fixture
def world(db) -> World:
    org = f.OrganizationFactory()
    # Everyone within a few streets: bookings check the drive between visits, and the factories' random places
    # across the city made a 10:00 booking after a 09:00 visit fail now and then for a reason no test is about.
    facility_x = f.FacilityFactory(organization=org, name="Facility X", lat=43.655, lon=-79.390)
    facility_y = f.FacilityFactory(organization=org, name="Facility Y", lat=43.657, lon=-79.388)
    therapist = f.TherapistFactory(organization=org)
    other_therapist = f.TherapistFactory(organization=org)
    patient_x = f.PatientFactory(organization=org, facility=facility_x, room="12", bed="B")
    patient_y = f.PatientFactory(organization=org, facility=facility_y)
    patient_home = f.PatientFactory(organization=org, lat=43.656, lon=-79.392)
    w = World(
        org=org,
        coordinator=f.UserFactory(organization=org),
        therapist=therapist,
        other_therapist=other_therapist,
        facility_x=facility_x,
        facility_y=facility_y,
        staff_x=f.FacilityStaffFactory(organization=org, facility=facility_x),
        staff_y=f.FacilityStaffFactory(organization=org, facility=facility_y),
        patient_x=patient_x,
        patient_y=patient_y,
        patient_home=patient_home,
        visit_x=_scheduled(f.VisitFactory(organization=org, patient=patient_x), therapist),
        visit_y=f.VisitFactory(organization=org, patient=patient_y),
        visit_home=_scheduled(f.VisitFactory(organization=org, patient=patient_home), other_therapist),
        other_coordinator=f.UserFactory(),
    )
    w.clients = {
        "coordinator": _client(w.coordinator),
        "therapist": _client(therapist.user),
        "other_therapist": _client(other_therapist.user),
        "staff_x": _client(w.staff_x),
        "staff_y": _client(w.staff_y),
        "other_org": _client(w.other_coordinator),
        "anonymous": _client(None),
    }
    return w


@pytest.fixture
def skills(db) -> dict[str, Skill]:
    """The standard skills come from a data migration; make sure the ones tests name exist."""
    return {
        code: Skill.objects.get_or_create(code=code, defaults={"name": code.title()})[0]
        for code in ("palliative", "oncology")
    }
