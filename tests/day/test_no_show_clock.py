"""A no-show is recorded only once the visit could have begun: from check-in's opening, never the day before."""
from __future__ import annotations

import datetime as dt

import pytest

from dispatch.models import Visit, VisitStatus
from dispatch.services.booking import visit_book
from tests import factories as f
from tests.clients import signed_in


@pytest.fixture
def visit(therapist) -> Visit:
    day = f.tomorrow()
    patient = f.PatientFactory(organization=therapist.organization, lat=43.66, lon=-79.40)
    requested = f.VisitFactory(organization=therapist.organization, patient=patient, date=day, windows=[("08:00", "16:00")])
    return visit_book(visit=requested, therapist=therapist, planned_start=f.local(day, "12:40"))


def _no_show(client, visit, at: dt.datetime, *, route: str = "no-show"):
    with f.clock_at(at):
        if route == "transition":
            return client.post(
                f"/api/v1/visits/{visit.pk}/transition", {"status": "no_show", "reason": "not home"}, format="json"
            )
        return client.post(f"/api/v1/visits/{visit.pk}/no-show", {"reason": "not home"}, format="json")


@pytest.mark.parametrize("route", ["no-show", "transition"])
@pytest.mark.parametrize("who", ["therapist", "coordinator"])
def test_a_no_show_the_evening_before_is_refused_saying_when_it_can_be_recorded(
    visit, therapist, coordinator, who, route
):
    client = signed_in(therapist.user if who == "therapist" else coordinator)
    evening_before = f.local(visit.date - dt.timedelta(days=1), "17:15")

    response = _no_show(client, visit, evening_before, route=route)

    assert response.status_code == 409, response.content
    assert response.data["detail"] == (
        f"Visit {visit.pk} is planned for 12:40 on {visit.date}; a no-show can be recorded once check-in opens, "
        f"2 h before, at 10:40 on {visit.date}. Nothing was recorded."
    )
    assert dt.datetime.fromisoformat(response.data["extra"]["opens_at"]) == f.local(visit.date, "10:40")
    visit.refresh_from_db()
    assert (visit.status, visit.status_reason) == (VisitStatus.SCHEDULED, "")


@pytest.mark.parametrize("who", ["therapist", "coordinator"])
def test_a_no_show_is_accepted_from_the_check_in_opening(visit, therapist, coordinator, who):
    client = signed_in(therapist.user if who == "therapist" else coordinator)

    assert _no_show(client, visit, f.local(visit.date, "10:39")).status_code == 409
    response = _no_show(client, visit, f.local(visit.date, "10:40"))

    assert response.status_code == 200, response.content
    visit.refresh_from_db()
    assert (visit.status, visit.status_reason) == (VisitStatus.NO_SHOW, "not home")


def test_the_opening_follows_the_check_in_setting(settings, visit, therapist):
    settings.ROUNDS_CHECK_IN_EARLY_MIN = 30
    client = signed_in(therapist.user)

    assert _no_show(client, visit, f.local(visit.date, "12:09")).status_code == 409
    assert _no_show(client, visit, f.local(visit.date, "12:10")).status_code == 200
