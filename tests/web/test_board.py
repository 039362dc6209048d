from __future__ import annotations

import json

import pytest
from django.test import Client

from dispatch import models as m
from dispatch.services.booking import visit_book
from tests import factories as f


@pytest.fixture
def day_with_a_visit(organization, coordinator, therapist):
    visit = f.VisitFactory(organization=organization, windows=[("08:00", "16:00")])
    visit = visit_book(visit=visit, therapist=therapist, planned_start=f.local(visit.date, "09:00"), by=coordinator)
    open_request = f.VisitFactory(organization=organization)
    return visit, open_request


def _logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_board_asks_for_a_login_first(db):
    response = Client().get("/board/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_facility_staff_get_a_polite_refusal(facility_staff):
    response = _logged_in(facility_staff).get("/board/")
    assert response.status_code == 403 and b"coordinators and therapists" in response.content
    assert _logged_in(facility_staff).get("/board/data").status_code == 403


def test_the_board_data_lists_every_therapist_with_their_visits(coordinator, day_with_a_visit, organization):
    visit, open_request = day_with_a_visit
    other = f.TherapistFactory(organization=organization)
    body = _logged_in(coordinator).get(f"/board/data?date={visit.date}").json()
    rows = {t["id"]: t for t in body["therapists"]}
    assert set(rows) == {visit.therapist_id, other.pk}
    assert [v["id"] for v in rows[visit.therapist_id]["visits"]] == [visit.pk]
    assert rows[visit.therapist_id]["visits"][0]["start"].startswith(f"{visit.date}T09:00")
    assert [u["id"] for u in body["unassigned"]] == [open_request.pk]
    assert body["unassigned"][0]["reason"] == "Not planned yet."


def test_the_board_shows_the_planners_reason_for_an_unassigned_visit(coordinator, day_with_a_visit, organization):
    visit, open_request = day_with_a_visit
    m.PlanRun.objects.create(
        organization=organization, date=visit.date, status=m.PlanStatus.SUCCEEDED,
        result={"unassigned": [{"visit_id": open_request.pk, "code": "no_skill", "reason": "No therapist has skill mld."}]},
    )
    body = _logged_in(coordinator).get(f"/board/data?date={visit.date}").json()
    assert body["unassigned"][0]["reason"] == "No therapist has skill mld."


def test_no_health_detail_reaches_the_board(coordinator, day_with_a_visit):
    visit, _ = day_with_a_visit
    patient = visit.patient
    patient.last_name, patient.diagnosis, patient.referring_clinician = "Qzxlastname", "Qzxdiagnosis", "Dr. Qzxdoctor"
    patient.save()
    m.Precaution.objects.create(patient=patient, kind="device", note="Qzx PICC line left arm")
    raw = _logged_in(coordinator).get(f"/board/data?date={visit.date}").content.decode()
    for secret in ("Qzxdiagnosis", "Qzx PICC", "Qzxlastname", "Qzxdoctor"):
        assert secret not in raw
    assert "diagnosis" not in json.loads(raw)["therapists"][0]["visits"][0]


def test_a_therapist_sees_only_their_own_row(therapist, day_with_a_visit, organization):
    visit, _ = day_with_a_visit
    f.TherapistFactory(organization=organization)
    body = _logged_in(therapist.user).get(f"/board/data?date={visit.date}").json()
    assert [t["id"] for t in body["therapists"]] == [therapist.pk]
    assert body["unassigned"] == [] and body["facilities"] == []


def test_a_bad_date_is_a_400(coordinator):
    assert _logged_in(coordinator).get("/board/data?date=1870-01-01").status_code == 400
    assert _logged_in(coordinator).get("/board/data?date=soon").status_code == 400
