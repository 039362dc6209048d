"""A patient moves to another facility: each facility keeps seeing the visits made for it, and only those.

A visit's facility is where it takes place and who asked for it; the patient's current facility says
nothing about the visits requested before the move.
"""
from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from django.test import Client

from dispatch import models as m
from dispatch.services.booking import visit_book
from tests import factories as f


@pytest.fixture
def moved(world):
    """patient_y (of facility Y, with a request and a booked visit there) moves to facility X."""
    m.Contraindication.objects.create(
        patient=world.patient_y, kind="other", note="Qz-contra-note", active_from=world.visit_y.date,
    )
    booked = f.VisitFactory(organization=world.org, patient=world.patient_y, windows=[("08:00", "17:00")])
    visit_book(
        visit=booked, therapist=world.other_therapist, planned_start=f.local(booked.date, "14:00"),
        by=world.coordinator,
    )
    response = world.clients["coordinator"].patch(
        f"/api/v1/patients/{world.patient_y.pk}", {"facility": world.facility_x.pk}, format="json"
    )
    assert response.status_code == 200, response.content
    world.booked_y = booked
    return world


def _ids(response) -> set[int]:
    assert response.status_code == 200, response.content
    return {v["id"] for v in response.json()["results"]}


def test_the_new_facilitys_staff_see_nothing_of_the_patients_earlier_visits(moved):
    staff_x = moved.clients["staff_x"]
    patient = moved.patient_y.pk

    assert _ids(staff_x.get(f"/api/v1/visits?patient={patient}")) == set()
    assert moved.visit_y.pk not in _ids(staff_x.get("/api/v1/visits"))
    for visit in (moved.visit_y, moved.booked_y):
        assert staff_x.get(f"/api/v1/visits/{visit.pk}").status_code == 404
        assert staff_x.get(f"/api/v1/visits/{visit.pk}.ics").status_code == 404
    assert staff_x.patch(
        f"/api/v1/visits/{moved.visit_y.pk}", {"priority": "urgent"}, format="json"
    ).status_code == 404
    moved.visit_y.refresh_from_db()
    assert moved.visit_y.priority != "urgent"


def test_the_first_facilitys_staff_keep_seeing_and_editing_their_own_requests(moved):
    staff_y = moved.clients["staff_y"]

    assert _ids(staff_y.get(f"/api/v1/visits?patient={moved.patient_y.pk}")) == {moved.visit_y.pk, moved.booked_y.pk}
    response = staff_y.patch(f"/api/v1/visits/{moved.visit_y.pk}", {"priority": "urgent"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["facility"] == moved.facility_y.pk
    # The patient's record went with them: the old facility no longer reads it, nor the clinical notes.
    assert staff_y.get(f"/api/v1/patients/{moved.patient_y.pk}").status_code == 404
    contraindications = response.json()["contraindications"]
    assert contraindications and all("note" not in c for c in contraindications)
    assert "Qz-contra-note" not in staff_y.get("/api/v1/visits").content.decode()


def test_the_new_facility_sees_the_patient_and_what_it_requests_itself(moved):
    staff_x = moved.clients["staff_x"]
    assert staff_x.get(f"/api/v1/patients/{moved.patient_y.pk}").status_code == 200
    day = moved.visit_y.date.isoformat()
    created = staff_x.post("/api/v1/visits", {
        "patient": moved.patient_y.pk, "date": day, "duration_min": 30,
        "windows": [{"start": f.local(moved.visit_y.date, "10:00").isoformat(),
                     "end": f.local(moved.visit_y.date, "12:00").isoformat()}],
    }, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["facility"] == moved.facility_x.pk
    assert "Qz-contra-note" in created.content.decode()
    assert _ids(staff_x.get(f"/api/v1/visits?patient={moved.patient_y.pk}")) == {created.json()["id"]}


def test_facility_feeds_and_request_pages_follow_the_visits_facility(moved, anonymous_client):
    def feed(client) -> str:
        return anonymous_client.get(urlsplit(client.get("/api/v1/me/feed").json()["url"]).path).content.decode()

    booked = f"visit-{moved.booked_y.pk}@"
    assert booked in feed(moved.clients["staff_y"])
    assert booked not in feed(moved.clients["staff_x"])

    def page_ids(user) -> str:
        client = Client()
        client.force_login(user)
        return client.get("/facility/").content.decode()

    assert f'"id": {moved.visit_y.pk},' in page_ids(moved.staff_y)
    assert f'"id": {moved.visit_y.pk},' not in page_ids(moved.staff_x)
