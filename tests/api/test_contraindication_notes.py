"""Therapists learn that a contraindication is active and when, never its note (free clinical text).

Through the routes a therapist uses with a real token: the visit list and detail, a transition's answer,
the patient list and detail. Coordinators and the facility's staff keep reading the note.
"""
from __future__ import annotations

import datetime as dt

import pytest
from knox.models import AuthToken
from rest_framework.test import APIClient

from dispatch.models import Contraindication, ContraindicationKind, VisitStatus

NOTE = "Recent chemotherapy port infection, see chart"


def client_of(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {AuthToken.objects.create(user=user)[1]}")
    return client


@pytest.fixture
def noted(world):
    Contraindication.objects.create(
        patient=world.patient_x, kind=ContraindicationKind.FEVER, note=NOTE,
        active_from=world.visit_x.date - dt.timedelta(days=3), active_until=world.visit_x.date + dt.timedelta(days=3),
    )
    return world


def _every_contraindication(body) -> list[dict]:
    found = []

    def walk(value) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if key == "contraindications":
                    found.extend(item)
                else:
                    walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(body)
    return found


def test_a_therapist_sees_kind_and_dates_but_no_note_anywhere(noted):
    world, client = noted, client_of(noted.therapist.user)
    visit, patient = world.visit_x, world.patient_x
    answers = [
        client.get("/api/v1/visits"),
        client.get(f"/api/v1/visits/{visit.pk}"),
        client.get("/api/v1/patients"),
        client.get(f"/api/v1/patients/{patient.pk}"),
        client.post(f"/api/v1/visits/{visit.pk}/transition", {"status": VisitStatus.CONFIRMED}, format="json"),
    ]
    for response in answers:
        assert response.status_code == 200, response.content
        assert NOTE not in response.content.decode()
        contraindications = _every_contraindication(response.json())
        assert contraindications, response.request["PATH_INFO"]
        assert all(c == {"kind": "fever", "active_from": c["active_from"], "active_until": c["active_until"]}
                   for c in contraindications)


@pytest.mark.parametrize("who", ["coordinator", "staff_x"])
def test_coordinators_and_the_facilitys_staff_still_read_the_note(noted, who):
    client = client_of(getattr(noted, who))
    visit = client.get(f"/api/v1/visits/{noted.visit_x.pk}").json()
    patient = client.get(f"/api/v1/patients/{noted.patient_x.pk}").json()
    assert visit["contraindications"][0]["note"] == NOTE
    assert patient["contraindications"][0]["note"] == NOTE
