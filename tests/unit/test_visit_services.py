from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from dispatch.exceptions import ConflictError
from dispatch.models import Role, VisitStatus
from dispatch.selectors import scoping
from dispatch.services.visit_status import visit_transition
from dispatch.services.visits import visit_request_create, visit_series_create, visit_update
from tests.factories import FacilityFactory, PatientFactory, UserFactory, VisitFactory, local


@pytest.fixture
def patient(organization):
    return PatientFactory(organization=organization, facility=FacilityFactory(organization=organization, name="Hospice A"))


def test_a_request_takes_its_place_from_the_patients_facility(patient):
    day = dt.date(2030, 3, 4)
    visit = visit_request_create(
        patient=patient, date=day, duration_min=30, windows=[{"start": local(day, "09:00"), "end": local(day, "11:00")}]
    )
    assert (visit.facility, visit.location_text, visit.lat) == (patient.facility, "Hospice A", patient.facility.lat)
    assert visit.status == VisitStatus.REQUESTED


def test_a_window_ending_at_midnight_is_still_on_the_visits_day(patient):
    day = dt.date(2030, 3, 4)
    window = {"start": local(day, "20:00"), "end": local(day + dt.timedelta(days=1), "00:00")}
    visit = visit_request_create(patient=patient, date=day, duration_min=30, windows=[window])
    assert visit.windows.count() == 1


def test_changing_the_date_without_new_windows_is_refused_naming_windows(patient):
    visit = VisitFactory(organization=patient.organization, patient=patient)
    with pytest.raises(ValidationError, match="is not on"):
        visit_update(visit=visit, by=None, date=visit.date + dt.timedelta(days=1))


def test_a_closed_visit_cannot_be_changed(patient):
    visit = VisitFactory(organization=patient.organization, patient=patient)
    visit_transition(visit=visit, target=VisitStatus.CANCELLED, reason="Family declined")
    with pytest.raises(ConflictError, match="only an open visit can be changed"):
        visit_update(visit=visit, by=None, instructions="x")


def test_a_series_over_a_daylight_saving_change_keeps_its_local_window(patient):
    # 2030-03-10: clocks go forward in Toronto. The 09:00 window stays 09:00 local on both sides.
    series = visit_series_create(
        patient=patient,
        weekdays=[5, 0],
        window_start=dt.time(9),
        window_end=dt.time(11),
        duration_min=45,
        starts_on=dt.date(2030, 3, 9),
        ends_on=dt.date(2030, 3, 11),
    )
    windows = [v.windows.get() for v in series.visits.order_by("date")]
    assert [v.date for v in series.visits.order_by("date")] == [dt.date(2030, 3, 9), dt.date(2030, 3, 11)]
    tz = patient.organization.tz
    assert {w.start.astimezone(tz).time() for w in windows} == {dt.time(9)}
    assert windows[0].start.astimezone(tz).utcoffset() != windows[1].start.astimezone(tz).utcoffset()


def test_a_series_with_no_matching_day_is_refused_naming_weekdays(patient):
    with pytest.raises(ValidationError, match="No day from"):
        visit_series_create(
            patient=patient, weekdays=[6], window_start=dt.time(9), window_end=dt.time(10), duration_min=30,
            starts_on=dt.date(2030, 3, 4), ends_on=dt.date(2030, 3, 6),
        )


@pytest.mark.parametrize(
    "scope",
    [scoping.visits_visible_to, scoping.patients_visible_to, scoping.therapists_visible_to, scoping.facilities_visible_to],
)
def test_a_user_without_an_organisation_sees_nothing(db, scope):
    VisitFactory()
    user = UserFactory(organization=None, role=Role.COORDINATOR)
    assert not scope(user).exists()
