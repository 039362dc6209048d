"""Changes that book take their row locks in one order (therapists, patient, visit), and a request PostgreSQL ends
to break a deadlock anyway is run again instead of answering 503."""
from __future__ import annotations

import re
import threading
import time

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from dispatch.models import Patient, Therapist, Visit, VisitStatus
from dispatch.services.booking import visit_book
from tests import factories as f
from tests.conftest import _client_for

pytestmark = pytest.mark.postgres

LOCKED_TABLE = re.compile(r'FROM "(dispatch_\w+)".* FOR (?:NO KEY )?UPDATE', re.S)


def _locked_tables(queries) -> list[str]:
    return [match.group(1) for q in queries if (match := LOCKED_TABLE.search(q["sql"]))]


def _booked_pair(organization):
    first, second = f.TherapistFactory(organization=organization), f.TherapistFactory(organization=organization)
    coordinator = f.UserFactory(organization=organization)
    visit = f.VisitFactory(organization=organization, windows=[("08:00", "16:00")])
    visit_book(visit=visit, therapist=first, planned_start=f.local(visit.date, "09:00"), by=coordinator)
    return coordinator, first, second, visit


@pytest.mark.django_db
def test_a_patch_that_moves_a_visit_to_another_therapist_locks_in_bookings_order(organization):
    coordinator, _, second, visit = _booked_pair(organization)
    body = {"therapist": second.pk, "planned_start": f.local(visit.date, "10:00").isoformat()}

    with CaptureQueriesContext(connection) as queries:
        response = _client_for(coordinator).patch(f"/api/v1/visits/{visit.pk}", body, format="json")

    assert response.status_code == 200, response.data
    assert response.data["therapist"] == second.pk
    tables = _locked_tables(queries.captured_queries)
    first_visit_lock = tables.index("dispatch_visit")
    assert "dispatch_therapist" in tables[:first_visit_lock] and "dispatch_patient" in tables[:first_visit_lock]
    assert tables.index("dispatch_therapist") < tables.index("dispatch_patient")


@pytest.mark.django_db
def test_a_patch_of_the_instructions_only_locks_the_visit(organization):
    coordinator, _, _, visit = _booked_pair(organization)

    with CaptureQueriesContext(connection) as queries:
        response = _client_for(coordinator).patch(f"/api/v1/visits/{visit.pk}", {"instructions": "Side door."},
                                                  format="json")

    assert response.status_code == 200, response.data
    assert _locked_tables(queries.captured_queries)[:1] == ["dispatch_visit"]
    assert "dispatch_therapist" not in _locked_tables(queries.captured_queries)


@pytest.mark.django_db
def test_an_assignment_locks_the_patient_before_the_visit(organization):
    therapist, coordinator = f.TherapistFactory(organization=organization), f.UserFactory(organization=organization)
    visit = f.VisitFactory(organization=organization, windows=[("08:00", "16:00")])
    body = {"therapist": therapist.pk, "planned_start": f.local(visit.date, "09:00").isoformat()}

    with CaptureQueriesContext(connection) as queries:
        response = _client_for(coordinator).post(f"/api/v1/visits/{visit.pk}/assign", body, format="json")

    assert response.status_code == 200, response.data
    assert _locked_tables(queries.captured_queries)[:3] == ["dispatch_therapist", "dispatch_patient", "dispatch_visit"]


@pytest.mark.django_db(transaction=True)
def test_a_request_ended_by_a_deadlock_is_run_again_and_its_change_made_once():
    therapist = f.TherapistFactory()
    organization = therapist.organization
    coordinator = f.UserFactory(organization=organization)
    visit, calm = (f.VisitFactory(organization=organization, windows=[("08:00", "16:00")]) for _ in range(2))
    start = f.local(visit.date, "12:00")
    # Booked first and earlier in the day, so that the later booking changes nothing of it.
    assign = {"therapist": therapist.pk, "planned_start": f.local(visit.date, "09:00").isoformat()}
    assert _client_for(coordinator).post(f"/api/v1/visits/{calm.pk}/assign", assign, format="json").status_code == 200
    ready, done = threading.Event(), threading.Event()
    failures: list[BaseException] = []

    def the_other_transaction() -> None:
        # It holds the patient and then wants the therapist, the reverse of the assignment's order: the two wait
        # on each other. Its own deadlock check waits 10 s, so PostgreSQL ends the request's transaction (1 s).
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SET LOCAL deadlock_timeout = '10s'")
                list(Patient.objects.select_for_update().filter(pk=visit.patient_id))
                ready.set()
                deadline = time.monotonic() + 10
                while not _someone_waits_for_a_lock(cursor) and time.monotonic() < deadline:
                    time.sleep(0.02)
                list(Therapist.objects.select_for_update().filter(pk=therapist.pk))
                time.sleep(0.2)  # the request's second run now waits for this commit, not for a deadlock
        except BaseException as exc:  # reported by the main thread
            failures.append(exc)
        finally:
            done.set()
            connection.close()

    other = threading.Thread(target=the_other_transaction)
    other.start()
    assert ready.wait(10)
    response = _client_for(coordinator).post(
        f"/api/v1/visits/{visit.pk}/assign", {"therapist": therapist.pk, "planned_start": start.isoformat()},
        format="json",
    )
    other.join(20)

    assert done.is_set() and not failures, failures
    assert response.status_code == 200, response.content
    booked = Visit.objects.get(pk=visit.pk)
    assert (booked.status, booked.therapist_id, booked.planned_start) == (VisitStatus.SCHEDULED, therapist.pk, start)
    assert booked.history.count() == calm.history.count()  # made once, by the second run, as without a deadlock


def _someone_waits_for_a_lock(cursor) -> bool:
    cursor.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
    )
    return cursor.fetchone()[0] > 0
