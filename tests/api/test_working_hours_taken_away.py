"""Hours taken away from a therapist through `/api/v1/availability/...` (time off entered, a weekly period cut or
deleted, an extra shift deleted) unbook the visits booked in them, with the reason, in the same transaction.
Before, a coordinator recording Thursday off left Thursday's visits booked on someone who was not coming, outside
every shift the therapist had (booking refuses such a visit; the simulator's booked_inside_shift invariant)."""
from __future__ import annotations

import datetime as dt

import pytest

from dispatch import models as m
from dispatch.models import VisitStatus
from dispatch.services.booking import visit_book
from tests import factories as f

THURSDAY = dt.date(2027, 1, 14)
UNBOOKED = "Unbooked: {name} is no longer working then; the visit is open to plan again."


@pytest.fixture
def booked(therapist, coordinator):
    """Thursday 09:00 and 14:00, and the next Thursday 09:00, booked on the therapist (08:00-17:00 every day)."""
    visits = {}
    for name, day, hhmm in (
        ("morning", THURSDAY, "09:00"), ("afternoon", THURSDAY, "14:00"),
        ("next_week", THURSDAY + dt.timedelta(days=7), "09:00"),
    ):
        visit = f.VisitFactory(organization=therapist.organization, date=day, windows=[("08:00", "16:00")])
        visits[name] = visit_book(visit=visit, therapist=therapist, planned_start=f.local(day, hhmm), by=coordinator)
    return visits


def _state(visit) -> tuple[str, int | None]:
    visit.refresh_from_db()
    return visit.status, visit.therapist_id


def test_a_day_off_entered_unbooks_that_days_visits_and_says_why(therapist, coordinator_client, booked):
    with f.clock_at(f.local(THURSDAY - dt.timedelta(days=2), "10:00")):
        response = coordinator_client.post(
            "/api/v1/availability/exceptions",
            {"therapist": therapist.pk, "date": THURSDAY.isoformat(), "kind": "time_off", "note": "sick"},
            format="json",
        )

    assert response.status_code == 201, response.content
    for name in ("morning", "afternoon"):
        assert _state(booked[name]) == (VisitStatus.REQUESTED, None), name
        assert booked[name].status_reason == UNBOOKED.format(name=therapist.display_name)
    assert _state(booked["next_week"]) == (VisitStatus.SCHEDULED, therapist.pk)


def test_an_afternoon_off_unbooks_only_what_it_covers(therapist, coordinator_client, booked):
    with f.clock_at(f.local(THURSDAY - dt.timedelta(days=2), "10:00")):
        response = coordinator_client.post(
            "/api/v1/availability/exceptions",
            {"therapist": therapist.pk, "date": THURSDAY.isoformat(), "kind": "time_off",
             "start_time": "13:00", "end_time": "17:00"},
            format="json",
        )

    assert response.status_code == 201, response.content
    assert _state(booked["morning"]) == (VisitStatus.SCHEDULED, therapist.pk)
    assert _state(booked["afternoon"]) == (VisitStatus.REQUESTED, None)


def test_a_weekly_period_cut_or_deleted_unbooks_every_week_it_held(therapist, coordinator_client, booked):
    thursdays = m.WeeklyAvailability.objects.get(therapist=therapist, weekday=THURSDAY.weekday())
    with f.clock_at(f.local(THURSDAY - dt.timedelta(days=2), "10:00")):
        response = coordinator_client.patch(
            f"/api/v1/availability/weekly/{thursdays.pk}", {"start_time": "12:00"}, format="json"
        )
        assert response.status_code == 200, response.content
        assert _state(booked["morning"]) == (VisitStatus.REQUESTED, None)
        assert _state(booked["next_week"]) == (VisitStatus.REQUESTED, None)
        assert _state(booked["afternoon"]) == (VisitStatus.SCHEDULED, therapist.pk)

        response = coordinator_client.delete(f"/api/v1/availability/weekly/{thursdays.pk}")

    assert response.status_code == 204, response.content
    assert _state(booked["afternoon"]) == (VisitStatus.REQUESTED, None)


def test_hours_given_unbook_nothing_and_a_past_day_keeps_its_record(therapist, coordinator_client, booked):
    with f.clock_at(f.local(THURSDAY + dt.timedelta(days=1), "10:00")):  # Thursday is over
        response = coordinator_client.post(
            "/api/v1/availability/exceptions",
            {"therapist": therapist.pk, "date": (THURSDAY + dt.timedelta(days=7)).isoformat(), "kind": "extra_shift",
             "start_time": "17:00", "end_time": "19:00"},
            format="json",
        )
        assert response.status_code == 201, response.content
        for name in ("morning", "afternoon", "next_week"):
            assert _state(booked[name]) == (VisitStatus.SCHEDULED, therapist.pk), name

        thursdays = m.WeeklyAvailability.objects.get(therapist=therapist, weekday=THURSDAY.weekday())
        response = coordinator_client.patch(
            f"/api/v1/availability/weekly/{thursdays.pk}", {"start_time": "12:00"}, format="json"
        )

    assert response.status_code == 200, response.content
    assert _state(booked["morning"]) == (VisitStatus.SCHEDULED, therapist.pk)  # what happened is not re-planned
    assert _state(booked["next_week"]) == (VisitStatus.REQUESTED, None)
