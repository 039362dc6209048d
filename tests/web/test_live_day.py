"""The running day's marks on the board: late, at risk, checked in, done."""
from __future__ import annotations

import datetime as dt

import pytest

from dispatch import models as m
from dispatch.selectors.live_day import LiveState, visit_live_states
from dispatch.services.booking import visit_book
from tests import factories as f

LATE_AFTER = dt.timedelta(minutes=10)


@pytest.fixture
def day():
    return f.tomorrow()


def _booked(*, organization, therapist, coordinator, day, at: str, windows=(("08:00", "17:00"),), duration=30):
    # At the therapist's door: bookings back to back need no travel (a booking checks it).
    patient = f.PatientFactory(organization=organization, lat=therapist.home_lat, lon=therapist.home_lon)
    visit = f.VisitFactory(
        organization=organization, patient=patient, date=day, windows=list(windows), duration_min=duration
    )
    return visit_book(visit=visit, therapist=therapist, planned_start=f.local(day, at), by=coordinator)


def _states(therapist, now):
    visits = m.Visit.objects.filter(therapist=therapist).prefetch_related("windows").select_related("facility")
    return visit_live_states(visits=visits, now=now, late_after=LATE_AFTER)


def test_a_visit_with_no_check_in_ten_minutes_after_its_start_is_late(organization, therapist, coordinator, day):
    visit = _booked(organization=organization, therapist=therapist, coordinator=coordinator, day=day, at="09:00")
    assert _states(therapist, f.local(day, "09:09"))[visit.pk].state is None
    late = _states(therapist, f.local(day, "09:10"))[visit.pk]
    assert late.state == LiveState.LATE and late.late_by_min == 10


def test_a_late_start_carried_down_the_route_puts_a_later_visit_at_risk(organization, therapist, coordinator, day):
    first = _booked(organization=organization, therapist=therapist, coordinator=coordinator, day=day, at="09:00")
    # The second visit must end by 10:15; it is planned at 09:40, so it has 5 minutes to spare.
    second = _booked(organization=organization, therapist=therapist, coordinator=coordinator, day=day, at="09:40",
                     windows=[("09:30", "10:15")])
    states = _states(therapist, f.local(day, "09:20"))
    assert states[first.pk].state == LiveState.LATE
    # Not started at 09:20: free at 09:20 + 30 min + buffer at the earliest, past the window's end.
    assert states[second.pk].state == LiveState.AT_RISK
    assert states[second.pk].expected_start > second.planned_start


def test_a_reported_delay_that_still_fits_the_window_is_no_risk(organization, therapist, coordinator, day):
    visit = _booked(organization=organization, therapist=therapist, coordinator=coordinator, day=day, at="10:00")
    visit.delay_min = 20
    visit.save()
    state = _states(therapist, f.local(day, "09:00"))[visit.pk]
    assert state.state is None and state.late_by_min == 20
    visit.delay_min = 7 * 60  # past the 17:00 window's end
    visit.save()
    assert _states(therapist, f.local(day, "09:00"))[visit.pk].state == LiveState.AT_RISK


def test_checked_in_and_done_visits_say_so_and_an_overrun_delays_the_next(organization, therapist, coordinator, day):
    done = _booked(organization=organization, therapist=therapist, coordinator=coordinator, day=day, at="08:00")
    running = _booked(organization=organization, therapist=therapist, coordinator=coordinator, day=day, at="09:00")
    after = _booked(organization=organization, therapist=therapist, coordinator=coordinator, day=day, at="09:45",
                    windows=[("09:30", "10:20")])
    m.Visit.objects.filter(pk=done.pk).update(status=m.VisitStatus.COMPLETED, actual_start=f.local(day, "08:00"),
                                              actual_end=f.local(day, "08:30"))
    # Checked in 25 minutes late: the session runs to 09:55, the next visit cannot end by 10:20.
    m.Visit.objects.filter(pk=running.pk).update(status=m.VisitStatus.IN_PROGRESS, actual_start=f.local(day, "09:25"))
    states = _states(therapist, f.local(day, "09:30"))
    assert states[done.pk].state == LiveState.DONE
    assert states[running.pk].state == LiveState.CHECKED_IN
    assert states[after.pk].state == LiveState.AT_RISK
