from __future__ import annotations

import datetime as dt

import pytest

from dispatch import models as m
from tests import factories as f


@pytest.fixture
def small_day(organization):
    """Three therapists and ten home visits tomorrow, all plannable."""
    day = f.tomorrow()
    therapists = [f.TherapistFactory(organization=organization) for _ in range(3)]
    visits = [
        f.VisitFactory(organization=organization, date=day, duration_min=30, windows=[("08:30", "16:30")])
        for _ in range(10)
    ]
    return day, therapists, visits


@pytest.fixture
def fever_visit(organization, small_day):
    day, _, _ = small_day
    visit = f.VisitFactory(organization=organization, date=day)
    m.Contraindication.objects.create(patient=visit.patient, kind="fever", active_from=day - dt.timedelta(days=1))
    return visit
