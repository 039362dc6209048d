from __future__ import annotations

import datetime as dt

import pytest

from dispatch import models as m
from dispatch.optimizer_adapter import problem_from_visits
from tests import factories as f

DAY = dt.date(2026, 11, 25)  # a Wednesday


@pytest.fixture
def org(db):
    return f.OrganizationFactory()


def _problem(org, visits=None, therapists=None):
    return problem_from_visits(
        organization=org,
        day=DAY,
        visits=visits if visits is not None else m.Visit.objects.filter(organization=org),
        therapists=therapists if therapists is not None else m.Therapist.objects.filter(organization=org),
    )


def test_weekly_availability_becomes_the_shift_in_local_minutes(org):
    therapist = f.TherapistFactory(organization=org)
    (t,) = _problem(org).problem.therapists
    assert (t.id, t.shift_start_min, t.shift_end_min) == (str(therapist.pk), 8 * 60, 17 * 60)


def test_whole_day_time_off_removes_the_therapist(org):
    therapist = f.TherapistFactory(organization=org)
    m.AvailabilityException.objects.create(therapist=therapist, date=DAY, kind=m.ExceptionKind.TIME_OFF)
    assert _problem(org).problem.therapists == ()


def test_time_off_in_the_middle_of_the_day_becomes_a_fixed_break(org):
    therapist = f.TherapistFactory(organization=org)
    m.AvailabilityException.objects.create(
        therapist=therapist, date=DAY, kind=m.ExceptionKind.TIME_OFF, start_time=dt.time(12), end_time=dt.time(13)
    )
    (t,) = _problem(org).problem.therapists
    assert [(b.earliest_start_min, b.latest_start_min, b.duration_min) for b in t.breaks] == [(720, 720, 60)]


def test_an_extra_shift_extends_the_day(org):
    therapist = f.TherapistFactory(organization=org)
    m.AvailabilityException.objects.create(
        therapist=therapist, date=DAY, kind=m.ExceptionKind.EXTRA_SHIFT, start_time=dt.time(17), end_time=dt.time(20)
    )
    (t,) = _problem(org).problem.therapists
    assert t.shift_end_min == 20 * 60


def test_an_expired_hospital_credential_makes_the_therapist_ineligible_there(org):
    cred = f.CredentialTypeFactory(organization=org)
    hospital = f.FacilityFactory(organization=org)
    hospital.required_credentials.add(cred)
    valid, lapsed = f.TherapistFactory(organization=org), f.TherapistFactory(organization=org)
    m.TherapistCredential.objects.create(therapist=valid, credential_type=cred, expires_on=DAY)
    m.TherapistCredential.objects.create(therapist=lapsed, credential_type=cred, expires_on=DAY - dt.timedelta(days=1))
    patient = f.PatientFactory(organization=org, facility=hospital)
    f.VisitFactory(organization=org, patient=patient, date=DAY)
    (visit,) = _problem(org).problem.visits
    assert visit.allowed_therapists == frozenset({str(valid.pk)})
    assert visit.site_id == f"facility-{hospital.pk}" and visit.overhead_min == hospital.checkin_overhead_min


def test_patient_preferences_become_forbidden_preferred_and_allowed_therapists(org):
    woman = f.TherapistFactory(organization=org, gender="female", languages=["en", "fr"])
    man = f.TherapistFactory(organization=org, gender="male", languages=["en"])
    other = f.TherapistFactory(organization=org, gender="female", languages=["en"])
    patient = f.PatientFactory(organization=org, preferred_therapist_gender="female", language="fr")
    patient.excluded_therapists.add(other)
    patient.preferred_therapists.add(woman)
    f.VisitFactory(organization=org, patient=patient, date=DAY)
    (visit,) = _problem(org).problem.visits
    assert visit.allowed_therapists == frozenset({str(woman.pk)})
    assert visit.forbidden_therapists == frozenset({str(other.pk)})
    assert visit.preferred_therapists == frozenset({str(woman.pk)})
    assert str(man.pk) not in visit.allowed_therapists


def test_a_fever_keeps_the_visit_out_of_the_problem_with_that_reason(org):
    f.TherapistFactory(organization=org)
    visit = f.VisitFactory(organization=org, date=DAY)
    m.Contraindication.objects.create(patient=visit.patient, kind="fever", active_from=DAY - dt.timedelta(days=1))
    day_problem = _problem(org)
    assert day_problem.problem.visits == ()
    (excluded,) = day_problem.excluded
    assert excluded.visit_id == str(visit.pk) and excluded.code == "contraindicated"
    assert "fever" in excluded.reason and str(DAY) in excluded.reason


def test_a_contraindication_that_ended_does_not_block_the_visit(org):
    f.TherapistFactory(organization=org)
    visit = f.VisitFactory(organization=org, date=DAY)
    m.Contraindication.objects.create(
        patient=visit.patient, kind="fever", active_from=DAY - dt.timedelta(days=5), active_until=DAY - dt.timedelta(days=1)
    )
    assert len(_problem(org).problem.visits) == 1


def test_windows_hold_the_whole_session_so_the_start_window_ends_a_duration_earlier(org):
    f.TherapistFactory(organization=org)
    f.VisitFactory(organization=org, date=DAY, duration_min=45, windows=[("10:00", "12:00")])
    (visit,) = _problem(org).problem.visits
    assert [(w.start_min, w.end_min) for w in visit.windows] == [(600, 675)]


def test_a_window_shorter_than_the_session_is_reported(org):
    f.TherapistFactory(organization=org)
    visit = f.VisitFactory(organization=org, date=DAY, duration_min=60, windows=[("10:00", "10:30")])
    (excluded,) = _problem(org).excluded
    assert (excluded.visit_id, excluded.code) == (str(visit.pk), "no_window")


def test_buffers_follow_the_care_setting_unless_the_visit_overrides(org):
    f.TherapistFactory(organization=org)
    hospital = f.FacilityFactory(organization=org, kind="hospital")
    at_home = f.VisitFactory(organization=org, date=DAY)
    in_hospital = f.VisitFactory(organization=org, date=DAY, patient=f.PatientFactory(organization=org, facility=hospital))
    overridden = f.VisitFactory(organization=org, date=DAY, buffer_min=25)
    buffers = {v.id: v.buffer_min for v in _problem(org).problem.visits}
    assert buffers == {str(at_home.pk): 5, str(in_hospital.pk): 15, str(overridden.pk): 25}


def _held(org, therapist, hhmm: str, status: str, *, pinned: bool = False) -> m.Visit:
    visit = f.VisitFactory(organization=org, date=DAY)
    visit.therapist, visit.planned_start = therapist, f.local(DAY, hhmm)
    visit.planned_end = visit.planned_busy_until = visit.planned_start + dt.timedelta(minutes=30)
    visit.status, visit.pinned = status, pinned
    visit.save()
    return visit


def test_pinned_and_confirmed_visits_stay_with_their_therapist_and_time(org):
    therapist = f.TherapistFactory(organization=org)
    confirmed = _held(org, therapist, "10:00", m.VisitStatus.CONFIRMED)
    pinned = _held(org, therapist, "11:00", m.VisitStatus.SCHEDULED, pinned=True)
    loose = _held(org, therapist, "14:00", m.VisitStatus.SCHEDULED)
    fixed = {pv.id: (pv.pinned_therapist, pv.pinned_start_min) for pv in _problem(org).problem.visits}
    assert fixed == {
        str(confirmed.pk): (str(therapist.pk), 600),
        str(pinned.pk): (str(therapist.pk), 660),
        str(loose.pk): (None, None),  # merely scheduled: the optimiser may move it
    }


def test_finished_and_cancelled_visits_are_not_planned(org):
    therapist = f.TherapistFactory(organization=org)
    f.VisitFactory(organization=org, date=DAY, status=m.VisitStatus.CANCELLED)
    _held(org, therapist, "09:00", m.VisitStatus.COMPLETED)
    _held(org, therapist, "10:00", m.VisitStatus.NO_SHOW)
    requested = f.VisitFactory(organization=org, date=DAY)
    assert [pv.id for pv in _problem(org).problem.visits] == [str(requested.pk)]


def test_a_visit_carries_its_patient_and_keeps_clear_of_the_patients_session_under_way(org):
    """The patient's session under way (not in the problem: the plan does not move it) cuts the starts that would
    overlap it from a request of the same patient; a request whose windows it covers stays out, saying why."""
    therapist = f.TherapistFactory(organization=org)
    patient = f.PatientFactory(organization=org)
    under_way = _held(org, therapist, "10:00", m.VisitStatus.IN_PROGRESS)
    under_way.patient = patient
    under_way.save()
    later = f.VisitFactory(organization=org, date=DAY, patient=patient, duration_min=30, windows=[("09:00", "12:00")])
    covered = f.VisitFactory(organization=org, date=DAY, patient=patient, duration_min=30, windows=[("10:00", "10:30")])
    other = f.VisitFactory(organization=org, date=DAY, duration_min=30, windows=[("10:00", "10:30")])
    day = _problem(org)
    modelled = {v.id: v for v in day.problem.visits}
    assert modelled[str(later.pk)].patient_id == f"patient-{patient.pk}"
    assert [(w.start_min, w.end_min) for w in modelled[str(later.pk)].windows] == [(540, 570), (630, 690)]
    assert [(w.start_min, w.end_min) for w in modelled[str(other.pk)].windows] == [(600, 600)]
    assert str(under_way.pk) not in modelled
    assert [(e.visit_id, e.code) for e in day.excluded] == [(str(covered.pk), "patient_busy")]
