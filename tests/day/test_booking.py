from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection
from rest_framework.test import APIClient

from dispatch.exceptions import DispatchError, SlotTaken
from dispatch.models import ExceptionKind, Skill, Visit, VisitStatus
from dispatch.services.booking import visit_book
from tests import factories as f


def test_booking_a_requested_visit_schedules_it_with_its_buffer(therapist, coordinator):
    visit = f.VisitFactory(organization=therapist.organization)
    start = f.local(visit.date, "09:30")

    booked = visit_book(visit=visit, therapist=therapist, planned_start=start, by=coordinator)

    assert booked.status == VisitStatus.SCHEDULED
    assert booked.therapist == therapist
    assert booked.planned_end == start + dt.timedelta(minutes=30)
    assert booked.planned_busy_until == start + dt.timedelta(minutes=35)  # home buffer: 5 min


def test_booking_refuses_a_visit_that_overlaps_another_one_buffer_included(therapist):
    first = f.VisitFactory(organization=therapist.organization)
    visit_book(visit=first, therapist=therapist, planned_start=f.local(first.date, "09:00"))
    second = f.VisitFactory(organization=therapist.organization)

    with pytest.raises(SlotTaken) as refused:
        visit_book(visit=second, therapist=therapist, planned_start=f.local(second.date, "09:32"))

    assert f"already has visit {first.pk}" in refused.value.extra["reasons"][0]
    second.refresh_from_db()
    assert second.status == VisitStatus.REQUESTED


def test_booking_accepts_a_visit_that_starts_when_the_buffer_ends(therapist):
    # The same patient twice: no travel between, so only the buffer separates them.
    patient = f.PatientFactory(organization=therapist.organization)
    first = f.VisitFactory(organization=therapist.organization, patient=patient)
    visit_book(visit=first, therapist=therapist, planned_start=f.local(first.date, "09:00"))
    second = f.VisitFactory(organization=therapist.organization, patient=patient)

    booked = visit_book(visit=second, therapist=therapist, planned_start=f.local(second.date, "09:35"))

    assert booked.status == VisitStatus.SCHEDULED


def test_booking_lists_every_broken_rule(organization):
    therapist = f.TherapistFactory(organization=organization, weekdays=False)
    credential = f.CredentialTypeFactory(organization=organization, code="hosp-cred")
    facility = f.FacilityFactory(organization=organization)
    facility.required_credentials.add(credential)
    therapist.credentials.create(credential_type=credential, expires_on=f.tomorrow() - dt.timedelta(days=1))
    patient = f.PatientFactory(organization=organization, facility=facility)
    visit = f.VisitFactory(organization=organization, patient=patient)
    visit.required_skills.set(Skill.objects.filter(code="oncology")[:1] or [Skill.objects.create(code="oncology")])

    with pytest.raises(DispatchError) as refused:
        visit_book(visit=visit, therapist=therapist, planned_start=f.local(visit.date, "13:00"))

    reasons = " | ".join(refused.value.extra["reasons"])
    assert refused.value.status_code == 400
    assert "lacks the skills oncology" in reasons
    assert "holds no hosp-cred credential valid on" in reasons
    assert "outside every window" in reasons
    assert "is not available 13:00–13:45" in reasons


def test_time_off_makes_the_therapist_unavailable(therapist):
    visit = f.VisitFactory(organization=therapist.organization)
    therapist.availability_exceptions.create(
        date=visit.date, kind=ExceptionKind.TIME_OFF, start_time=dt.time(9), end_time=dt.time(10)
    )

    with pytest.raises(DispatchError) as refused:
        visit_book(visit=visit, therapist=therapist, planned_start=f.local(visit.date, "09:15"))

    assert any("is not available 09:15" in r for r in refused.value.extra["reasons"])


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_hundred_concurrent_conflicting_bookings_leave_no_overlap_and_no_server_error():
    therapist = f.TherapistFactory()
    coordinator = f.UserFactory(organization=therapist.organization)
    patient = f.PatientFactory(organization=therapist.organization)  # one place: the race is about time only
    visits = [
        f.VisitFactory(organization=therapist.organization, patient=patient, windows=[("08:00", "16:00")])
        for _ in range(200)
    ]
    day = visits[0].date

    def book(i: int) -> int:
        client = APIClient()
        client.force_authenticate(coordinator)
        start = f.local(day, "09:00") + dt.timedelta(minutes=5 * (i % 12))
        try:
            response = client.post(
                f"/api/v1/visits/{visits[i].pk}/assign",
                {"therapist": therapist.pk, "planned_start": start.isoformat(), "pinned": True},
                format="json",
            )
            return response.status_code
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=24) as pool:
        statuses = list(pool.map(book, range(200)))

    assert set(statuses) <= {200, 409}, sorted(set(statuses))
    assert statuses.count(200) >= 1
    held = list(
        Visit.objects.filter(therapist=therapist, status=VisitStatus.SCHEDULED).order_by("planned_start")
    )
    assert len(held) == statuses.count(200)
    for earlier, later in zip(held, held[1:]):
        assert earlier.planned_busy_until <= later.planned_start


@pytest.mark.postgres
def test_the_exclusion_constraint_raises_slot_taken_inside_the_transaction(therapist):
    from dispatch.services.booking import no_double_booking_check_now

    patient = f.PatientFactory(organization=therapist.organization)
    first = f.VisitFactory(organization=therapist.organization, patient=patient)
    second = f.VisitFactory(organization=therapist.organization, patient=patient)
    visit_book(visit=first, therapist=therapist, planned_start=f.local(first.date, "09:00"))
    visit_book(visit=second, therapist=therapist, planned_start=f.local(second.date, "10:00"))
    # Bypass the service's own check, as a careless bulk update would.
    Visit.objects.filter(pk=second.pk).update(
        planned_start=f.local(second.date, "09:10"),
        planned_end=f.local(second.date, "09:40"),
        planned_busy_until=f.local(second.date, "09:45"),
    )

    with pytest.raises(SlotTaken, match=f"Therapist {therapist.pk} already has a visit overlapping"):
        no_double_booking_check_now(
            therapist=therapist, start=f.local(second.date, "09:10"), end=f.local(second.date, "09:45")
        )
    # Put the row back: the test case checks deferred constraints at teardown.
    Visit.objects.filter(pk=second.pk).update(
        planned_start=f.local(second.date, "10:00"),
        planned_end=f.local(second.date, "10:30"),
        planned_busy_until=f.local(second.date, "10:35"),
    )
