"""A visit given by hand leaves the therapist time to travel, as the optimiser would, or is refused."""
from __future__ import annotations

import datetime as dt
import math

import pytest

import optimizer
from dispatch.models import Skill, Visit
from dispatch.services.booking import visit_book
from tests import factories as f

NORTH_YORK = (43.7696, -79.3627)
LAKESHORE = (43.6577, -79.3905)  # 12.6 km away


@pytest.fixture
def hospitals(organization):
    return {
        name: f.FacilityFactory(organization=organization, name=name, lat=lat, lon=lon, checkin_overhead_min=10)
        for name, (lat, lon) in (("North York", NORTH_YORK), ("Lakeshore", LAKESHORE))
    }


@pytest.fixture
def downtown_therapist(organization):
    """Lives near Lakeshore and works 08:00-17:00."""
    return f.TherapistFactory(organization=organization, home_lat=43.6600, home_lon=-79.3900)


def _visit_at(facility, **extra) -> Visit:
    patient = f.PatientFactory(organization=facility.organization, facility=facility)
    return f.VisitFactory(
        organization=facility.organization, patient=patient, windows=[("08:00", "17:00")], **extra
    )


def _travel(settings, a, b, therapist) -> tuple[float, float]:
    """Minutes and km as the optimiser's default provider measures them (straight line times the detour)."""
    travel = optimizer.GeodesicTravel(detour_factor=settings.ROUNDS_DETOUR_FACTOR)
    a, b = optimizer.Location(*a), optimizer.Location(*b)
    return travel.travel_min(a, b, therapist.speed_kmh), round(travel.travel_km(a, b), 2)


def _reassign(client, visit, therapist, start):
    return client.post(
        f"/api/v1/visits/{visit.pk}/assign",
        {"therapist": therapist.pk, "planned_start": start.isoformat(), "pinned": True},
        format="json",
    )


def test_reassign_right_after_a_visit_across_town_is_refused_with_every_broken_rule(
    coordinator_client, hospitals, downtown_therapist, settings
):
    earlier = visit_book(  # 14:45-15:15 and the hospital's 15-minute buffer: busy until 15:30
        visit=_visit_at(hospitals["North York"]), therapist=downtown_therapist,
        planned_start=f.local(f.tomorrow(), "14:45"),
    )
    visit = _visit_at(hospitals["Lakeshore"])
    visit.required_skills.set([Skill.objects.get_or_create(code="oncology", defaults={"name": "Oncology"})[0]])
    minutes, km = _travel(settings, NORTH_YORK, LAKESHORE, downtown_therapist)
    travel = math.ceil(minutes)

    response = _reassign(coordinator_client, visit, downtown_therapist, f.local(visit.date, "15:30"))

    assert response.status_code == 400
    earliest = (f.local(visit.date, "15:30") + dt.timedelta(minutes=travel + 10)).strftime("%H:%M")
    assert response.data["extra"]["reasons"] == [
        f"Therapist {downtown_therapist.pk} lacks the skills oncology that visit {visit.pk} needs.",
        f"Therapist {downtown_therapist.pk} is at visit {earlier.pk} until 15:30 and needs {travel} min to get there "
        f"({km} km + 10 min check-in); {earliest} is the earliest start.",
    ]
    visit.refresh_from_db()
    assert visit.therapist_id is None


def test_reassign_leaving_no_time_to_reach_the_next_visit_is_refused(
    coordinator_client, hospitals, downtown_therapist
):
    later = visit_book(
        visit=_visit_at(hospitals["North York"]), therapist=downtown_therapist,
        planned_start=f.local(f.tomorrow(), "11:00"),
    )
    visit = _visit_at(hospitals["Lakeshore"])

    response = _reassign(coordinator_client, visit, downtown_therapist, f.local(visit.date, "10:00"))

    assert response.status_code == 400
    (reason,) = response.data["extra"]["reasons"]
    assert reason.startswith(f"Therapist {downtown_therapist.pk} could not reach visit {later.pk} at 11:00: free at 10:45")


def test_a_booking_from_home_at_the_start_of_the_day_needs_the_drive_there(coordinator_client, organization, hospitals):
    far = f.TherapistFactory(organization=organization, home_lat=43.60, home_lon=-79.55)
    visit = _visit_at(hospitals["North York"])

    response = coordinator_client.post(
        f"/api/v1/visits/{visit.pk}/assign",
        {"therapist": far.pk, "planned_start": f.local(visit.date, "08:05").isoformat()},
        format="json",
    )

    assert response.status_code == 400
    assert response.data["extra"]["reasons"][0].startswith(f"Therapist {far.pk}'s day starts at 08:00 at home, ")


def test_a_booking_that_brings_the_therapist_home_after_their_day_is_refused(
    coordinator_client, organization, hospitals
):
    far = f.TherapistFactory(organization=organization, home_lat=43.60, home_lon=-79.55)
    visit = _visit_at(hospitals["North York"])

    response = _reassign(coordinator_client, visit, far, f.local(visit.date, "16:00"))  # busy until 16:45

    assert response.status_code == 400
    assert "after their day ends at 17:00" in response.data["extra"]["reasons"][0]


def test_an_accepted_reassign_stores_its_travel_and_the_next_visits(
    coordinator_client, hospitals, downtown_therapist, settings
):
    day = f.tomorrow()
    earlier = visit_book(
        visit=_visit_at(hospitals["North York"]), therapist=downtown_therapist, planned_start=f.local(day, "09:00")
    )
    later = visit_book(
        visit=_visit_at(hospitals["North York"]), therapist=downtown_therapist, planned_start=f.local(day, "14:00")
    )
    assert (later.planned_travel_min, later.planned_travel_km) == (0, 0.0)  # same site as the one before
    visit = _visit_at(hospitals["Lakeshore"])
    minutes, km = _travel(settings, NORTH_YORK, LAKESHORE, downtown_therapist)

    response = _reassign(coordinator_client, visit, downtown_therapist, f.local(day, "11:00"))

    assert response.status_code == 200, response.data
    visit.refresh_from_db()
    later.refresh_from_db()
    assert (visit.planned_travel_min, visit.planned_travel_km) == (round(minutes), km)
    assert (later.planned_travel_min, later.planned_travel_km) == (round(minutes), km)
    assert earlier.pk != visit.pk


def test_moving_a_visit_away_fixes_the_travel_of_the_stop_after_it(
    coordinator_client, organization, hospitals, downtown_therapist, settings
):
    day = f.tomorrow()
    first = visit_book(
        visit=_visit_at(hospitals["North York"]), therapist=downtown_therapist, planned_start=f.local(day, "09:00")
    )
    middle = visit_book(
        visit=_visit_at(hospitals["Lakeshore"]), therapist=downtown_therapist, planned_start=f.local(day, "11:00")
    )
    last = visit_book(
        visit=_visit_at(hospitals["North York"]), therapist=downtown_therapist, planned_start=f.local(day, "14:00")
    )
    assert last.planned_travel_km == _travel(settings, LAKESHORE, NORTH_YORK, downtown_therapist)[1]
    other = f.TherapistFactory(organization=organization, home_lat=43.66, home_lon=-79.39)

    moved = _reassign(coordinator_client, middle, other, f.local(day, "11:00"))

    assert moved.status_code == 200, moved.data
    last.refresh_from_db()
    assert (last.planned_travel_min, last.planned_travel_km) == (0, 0.0)  # now straight after `first`, same site
    assert first.pk != last.pk


def test_a_hand_booked_visit_the_optimiser_can_reach_survives_the_next_replan(
    coordinator_client, hospitals, downtown_therapist
):
    day = f.tomorrow()
    visit_book(
        visit=_visit_at(hospitals["North York"]), therapist=downtown_therapist, planned_start=f.local(day, "13:45")
    )
    visit = _visit_at(hospitals["Lakeshore"])
    # Busy until 14:30, then 31 min of driving and 10 of check-in: 15:11 is the earliest that is accepted.
    assert _reassign(coordinator_client, visit, downtown_therapist, f.local(day, "15:11")).status_code == 200

    proposal = coordinator_client.post(
        "/api/v1/replan", {"date": str(day), "now": f.local(day, "07:00").isoformat()}, format="json"
    )

    assert proposal.data["status"] == "succeeded", proposal.data["error"]
    assert proposal.data["diff"]["dropped"] == [] and proposal.data["would_unbook"]["count"] == 0
