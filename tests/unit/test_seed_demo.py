from __future__ import annotations

import datetime as dt

import pytest

from dispatch import models as m
from dispatch.demo.seed import DEMO_SLUG, demo_seed

DAY = dt.date(2026, 3, 9)  # the Monday after the spring daylight-saving change


@pytest.fixture
def demo(db):
    return demo_seed(day=DAY, seed=3)


def test_demo_region_has_the_promised_size(demo):
    org = demo.organization
    assert m.Therapist.objects.filter(organization=org).count() == 12
    kinds = list(m.Facility.objects.filter(organization=org).values_list("kind", flat=True))
    assert (kinds.count("hospital"), kinds.count("assisted_living"), kinds.count("hospice")) == (3, 4, 1)
    assert m.Patient.objects.filter(organization=org, facility__isnull=True).count() == 80
    assert m.Visit.objects.filter(organization=org, date=DAY, status="requested").count() == 150


def test_every_demo_visit_has_coordinates_and_windows_on_its_day(demo):
    tz = demo.organization.tz
    visits = m.Visit.objects.filter(organization=demo.organization).prefetch_related("windows")
    for visit in visits:
        assert -90 <= visit.lat <= 90 and -180 <= visit.lon <= 180
        assert visit.windows.all(), f"visit {visit.pk} has no window"
        for w in visit.windows.all():
            assert w.start.astimezone(tz).date() == DAY and w.end > w.start
    durations = {v.duration_min for v in visits}
    assert min(durations) >= 15 and max(durations) <= 90 and len(durations) >= 5


def test_demo_contains_the_cases_a_coordinator_must_see(demo):
    org = demo.organization
    assert m.Contraindication.objects.filter(patient__organization=org, kind="fever").count() >= 1
    assert m.TherapistCredential.objects.filter(therapist__organization=org, expires_on__lt=DAY).exists()
    assert m.AvailabilityException.objects.filter(therapist__organization=org, date=DAY).count() == 2
    assert {u[1] for u in demo.users} == {"coordinator", "therapist", "facility_staff"}


def test_seeding_again_replaces_the_demo_region(demo):
    again = demo_seed(day=DAY, seed=3)
    assert m.Organization.objects.filter(slug=DEMO_SLUG).count() == 1
    assert m.Visit.objects.filter(organization=again.organization).count() == 150
