"""A phone resending a day action after a timeout: with its Idempotency-Key it gets the first answer back,
without one a repeated check-in or check-out is a 409; either way nothing is recorded twice."""
from __future__ import annotations

import datetime as dt
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection, transaction
from rest_framework.test import APIClient

from dispatch.models import IdempotencyKey, Patient, PlanRun, Visit, VisitStatus
from dispatch.services.booking import visit_book
from tests import factories as f
from tests.clients import signed_in

HERE = {"lat": 43.66, "lon": -79.40}


def _book(therapist, hhmm: str, patient=None) -> Visit:
    patient = patient or f.PatientFactory(organization=therapist.organization, **HERE)
    requested = f.VisitFactory(organization=therapist.organization, patient=patient, windows=[("08:00", "16:00")])
    return visit_book(visit=requested, therapist=therapist, planned_start=f.local(requested.date, hhmm))


@pytest.fixture
def day(therapist):
    """09:00 and, for the same patient (no travel), 09:40: a check-in at 09:10 pushes the second to 09:45."""
    first = _book(therapist, "09:00")
    return first, _book(therapist, "09:40", patient=first.patient)


@pytest.fixture
def phone(therapist):
    return signed_in(therapist.user)


def _post(client, visit, action: str, body: dict | None = None, key: str | None = None):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return client.post(f"/api/v1/visits/{visit.pk}/{action}", body or {}, format="json", **headers)


def _state(*visits: Visit) -> list[tuple]:
    """What a retry must not change: each visit's record, its history and the patient's units."""
    rows = []
    for visit in visits:
        visit.refresh_from_db()
        rows.append((
            visit.status, visit.actual_start, visit.actual_end, visit.planned_start, visit.planned_busy_until,
            visit.sequence, visit.history.count(), Patient.objects.get(pk=visit.patient_id).units_used,
        ))
    return rows


def test_a_check_in_resent_with_its_key_gets_the_first_answer_and_records_once(day, phone):
    visit, later = day
    with f.clock_at(f.local(visit.date, "09:10")) as clock:
        first = _post(phone, visit, "check-in", HERE, key="tap-1")
        after_first = _state(visit, later)
        clock.move_to(f.local(visit.date, "09:11"))
        again = _post(phone, visit, "check-in", HERE, key="tap-1")

    assert first.status_code == again.status_code == 200, (first.data, again.data)
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    assert _state(visit, later) == after_first
    assert later.planned_start == f.local(later.date, "09:45")  # pushed once, by 5 minutes


def test_a_check_in_resent_without_a_key_is_a_409_that_records_nothing(day, phone):
    visit, later = day
    with f.clock_at(f.local(visit.date, "09:10")) as clock:
        _post(phone, visit, "check-in", HERE)
        after_first = _state(visit, later)
        clock.move_to(f.local(visit.date, "09:11"))
        again = _post(phone, visit, "check-in", HERE)

    assert again.status_code == 409
    assert again.json() == {
        "detail": f"Visit {visit.pk} is already under way (checked in at 09:10 on {visit.date}); nothing was recorded.",
        "code": "transition_not_allowed",
        "extra": {"current": "in_progress", "actual_start": f.local(visit.date, "09:10").isoformat()},
    }
    assert _state(visit, later) == after_first


def test_a_check_out_resent_without_a_key_is_a_409_and_uses_one_unit(day, phone):
    visit, later = day
    with f.clock_at(f.local(visit.date, "09:10")) as clock:
        _post(phone, visit, "check-in")
        clock.move_to(f.local(visit.date, "09:40"))
        first = _post(phone, visit, "check-out")
        after_first = _state(visit, later)
        again = _post(phone, visit, "check-out")

    assert first.status_code == 200 and again.status_code == 409
    assert again.json()["detail"] == (
        f"Visit {visit.pk} is already completed (checked out at 09:40 on {visit.date}); nothing was recorded."
    )
    assert _state(visit, later) == after_first
    assert after_first[0][-1] == 1  # the one session used one authorised unit


def test_a_check_out_resent_with_its_key_gets_the_first_answer(day, phone):
    visit, later = day
    with f.clock_at(f.local(visit.date, "09:10")) as clock:
        _post(phone, visit, "check-in")
        clock.move_to(f.local(visit.date, "09:40"))
        first = _post(phone, visit, "check-out", key="out-1")
        after_first = _state(visit, later)
        again = _post(phone, visit, "check-out", key="out-1")

    assert first.status_code == again.status_code == 200
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    assert _state(visit, later) == after_first


def test_an_interruption_resent_with_its_key_pushes_the_next_visit_once(day, phone):
    visit, later = day
    body = {"minutes": 15, "kind": "paused"}
    with f.clock_at(f.local(visit.date, "09:00")):
        _post(phone, visit, "check-in")
        first = _post(phone, visit, "interruption", body, key="pause-1")
        again = _post(phone, visit, "interruption", body, key="pause-1")

    assert first.status_code == again.status_code == 200, first.data
    assert again.json() == first.json()
    visit.refresh_from_db()
    later.refresh_from_db()
    assert visit.planned_end == f.local(visit.date, "09:45")
    assert later.planned_start == f.local(later.date, "09:50")
    assert PlanRun.objects.filter(parameters__trigger=f"interruption:{visit.pk}").count() == 1


def test_an_interruption_resent_without_a_key_is_recorded_once_and_says_so(day, phone):
    visit, later = day
    body = {"minutes": 15, "kind": "paused"}
    with f.clock_at(f.local(visit.date, "09:00")) as clock:
        _post(phone, visit, "check-in")
        clock.move_to(f.local(visit.date, "09:20"))
        first = _post(phone, visit, "interruption", body)
        after_first = _state(visit, later)
        clock.move_to(f.local(visit.date, "09:20") + dt.timedelta(seconds=30))
        again = _post(phone, visit, "interruption", body)

    assert first.status_code == again.status_code == 200, again.data
    assert _state(visit, later) == after_first
    assert visit.planned_end == f.local(visit.date, "09:45") and later.planned_start == f.local(later.date, "09:50")
    assert again.data["repeated"] is True and "recorded 30 s ago" in again.data["detail"]
    assert again.data["pushed"] == [] and again.data["replan"]["id"] == first.data["replan"]["id"]
    assert PlanRun.objects.filter(parameters__trigger=f"interruption:{visit.pk}").count() == 1


def test_a_second_pause_or_another_kind_or_length_is_a_new_interruption(day, phone):
    visit, later = day
    with f.clock_at(f.local(visit.date, "09:00")) as clock:
        _post(phone, visit, "check-in")
        clock.move_to(f.local(visit.date, "09:10"))
        answers = [_post(phone, visit, "interruption", {"minutes": 5, "kind": "paused"})]
        answers.append(_post(phone, visit, "interruption", {"minutes": 5, "kind": "extended"}))  # another kind
        answers.append(_post(phone, visit, "interruption", {"minutes": 10, "kind": "paused"}))  # another length
        clock.move_to(f.local(visit.date, "09:25"))  # the first pause long over: a second one
        answers.append(_post(phone, visit, "interruption", {"minutes": 5, "kind": "paused"}))

    assert [a.status_code for a in answers] == [200] * 4 and not any(a.data.get("repeated") for a in answers)
    visit.refresh_from_db()
    assert visit.planned_end == f.local(visit.date, "09:30") + dt.timedelta(minutes=25)


def test_a_late_report_resent_with_its_key_proposes_one_replan(day, phone):
    visit, _ = day
    with f.clock_at(f.local(visit.date, "08:40")):
        first = _post(phone, visit, "late", {"minutes": 20}, key="late-1")
        again = _post(phone, visit, "late", {"minutes": 20}, key="late-1")

    assert first.status_code == again.status_code == 200, first.data
    assert again.json()["replan"]["id"] == first.json()["replan"]["id"]
    assert PlanRun.objects.filter(parameters__trigger=f"late:{visit.pk}").count() == 1


def test_a_key_used_again_for_another_visit_is_refused_with_422(day, phone):
    visit, later = day
    with f.clock_at(f.local(visit.date, "09:10")):
        _post(phone, visit, "late", {"minutes": 5}, key="k")
        reused = _post(phone, later, "late", {"minutes": 5}, key="k")

    assert reused.status_code == 422 and reused.json()["code"] == "idempotency_key_reused"
    later.refresh_from_db()
    assert later.delay_min == 0


def test_another_therapist_resending_with_a_key_gets_404_and_nothing_is_kept(day, organization):
    visit, _ = day
    other = signed_in(f.TherapistFactory(organization=organization).user)
    with f.clock_at(f.local(visit.date, "09:10")):
        answers = [_post(other, visit, "check-in", key="theirs").status_code for _ in range(2)]

    assert answers == [404, 404]
    assert not IdempotencyKey.objects.exists()
    visit.refresh_from_db()
    assert visit.status == VisitStatus.SCHEDULED


def test_facility_staff_cannot_check_in_their_facilitys_visit(therapist, facility, facility_staff):
    resident = f.PatientFactory(organization=therapist.organization, facility=facility)
    visit = _book(therapist, "09:00", patient=resident)
    staff = signed_in(facility_staff)
    assert staff.get(f"/api/v1/visits/{visit.pk}").status_code == 200  # theirs to see, not to act on

    with f.clock_at(f.local(visit.date, "09:00")):
        answers = [_post(staff, visit, action, key=action).status_code for action in ("check-in", "check-out")]

    assert answers == [404, 404]
    visit.refresh_from_db()
    assert visit.status == VisitStatus.SCHEDULED


def _waiting_on_locks() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")  # else a transaction sees its first snapshot throughout
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0]


def _burst(therapist, visit, key: str | None, n: int = 8) -> list[tuple[int, dict]]:
    """The same check-in sent n times at once: all are let go together, past the key lookup and waiting on the
    visit's row, so they race as a resend does that arrives while the first is still being handled."""

    def send(_: int):
        client = APIClient()
        client.force_authenticate(therapist.user)
        try:
            response = _post(client, visit, "check-in", key=key)
            return response.status_code, response.json()
        finally:
            connection.close()

    with f.clock_at(f.local(visit.date, "09:10")), ThreadPoolExecutor(max_workers=n) as pool:
        with transaction.atomic():
            Visit.objects.select_for_update().get(pk=visit.pk)
            answers = pool.map(send, range(n))
            for _ in range(2000):
                if _waiting_on_locks() >= n:
                    break
                time.sleep(0.01)
            assert _waiting_on_locks() >= n, "every request waits on the visit before any goes on"
        return list(answers)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_check_ins_resent_at_once_without_a_key_start_the_visit_once():
    therapist = f.TherapistFactory()
    visit = _book(therapist, "09:00")
    booked = visit.sequence

    answers = _burst(therapist, visit, key=None)

    assert sorted(status for status, _ in answers) == [200] + [409] * 7
    assert {body["code"] for status, body in answers if status == 409} == {"transition_not_allowed"}
    visit.refresh_from_db()
    assert visit.actual_start == f.local(visit.date, "09:10")
    assert visit.sequence == booked + 1  # one status change


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_check_ins_resent_at_once_with_one_key_all_get_the_first_answer():
    therapist = f.TherapistFactory()
    visit = _book(therapist, "09:00")
    booked = visit.sequence

    answers = _burst(therapist, visit, key="tap")

    assert {status for status, _ in answers} == {200}
    assert len({body["visit"]["actual_start"] for _, body in answers}) == 1
    visit.refresh_from_db()
    assert visit.sequence == booked + 1  # one status change
