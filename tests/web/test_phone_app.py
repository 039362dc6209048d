"""The therapist's phone app and the calendar page, through their real URLs."""
from __future__ import annotations

import json

import pytest
from django.test import Client
from django.utils import timezone

from dispatch import models as m
from dispatch.services.booking import visit_book
from tests import factories as f
from tests.web.test_board import _keys


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def today_visit(organization, coordinator, therapist):
    day = timezone.localdate(timezone=f.TORONTO)
    visit = f.VisitFactory(organization=organization, date=day, windows=[("00:00", "23:59")],
                           instructions="Ring the bell twice")
    patient = visit.patient
    patient.access_notes, patient.diagnosis = "Side door, code 4412", "Qzxdiagnosis"
    patient.save()
    m.Precaution.objects.create(patient=patient, kind="device", body_site="left arm", note="PICC line")
    m.Contraindication.objects.create(patient=patient, kind="fever", note="Qzx 38.9 this morning", active_from=day)
    return visit_book(visit=visit, therapist=therapist, planned_start=f.local(day, "10:00"), by=coordinator)


def test_the_app_gives_a_therapist_what_they_need_at_the_door_and_the_bedside(therapist, today_visit):
    body = _client(therapist.user).get("/app/data").json()
    [card] = body["visits"]
    assert card["id"] == today_visit.pk and card["start"][11:16] == "10:00"
    assert card["access_notes"] == "Side door, code 4412" and card["instructions"] == "Ring the bell twice"
    assert card["precautions"] == [{"kind": "Medical device or tubing", "body_site": "left arm", "note": "PICC line"}]
    assert card["ruled_out_by"] == ["Fever"]
    assert card["links"]["geo"].startswith(f"geo:{today_visit.lat},{today_visit.lon}")
    assert f"destination={today_visit.lat},{today_visit.lon}" in card["links"]["maps"]


def test_the_app_never_carries_the_diagnosis_or_a_contraindications_note(therapist, today_visit):
    raw = _client(therapist.user).get("/app/data").content.decode()
    assert "Qzxdiagnosis" not in raw and "Qzx 38.9" not in raw
    assert not _keys(json.loads(raw)) & {"diagnosis", "referring_clinician", "payer", "date_of_birth", "last_name"}


def test_a_therapist_sees_only_their_own_visits(organization, coordinator, therapist, today_visit):
    other = f.TherapistFactory(organization=organization)
    theirs = f.VisitFactory(organization=organization, date=today_visit.date, windows=[("00:00", "23:59")])
    visit_book(visit=theirs, therapist=other, planned_start=f.local(theirs.date, "13:00"), by=coordinator)
    ids = [v["id"] for v in _client(therapist.user).get("/app/data").json()["visits"]]
    assert ids == [today_visit.pk]


def test_the_app_is_for_therapists(coordinator, facility_staff):
    for user in (coordinator, facility_staff):
        assert _client(user).get("/app/").status_code == 403
        assert _client(user).get("/app/data").status_code == 403
    assert Client().get("/app/").status_code == 302


def test_the_app_is_installable_and_works_offline_from_its_service_worker(therapist):
    client = _client(therapist.user)
    page = client.get("/app/").content.decode()
    assert 'rel="manifest" href="/app/manifest.webmanifest"' in page
    manifest = json.loads(client.get("/app/manifest.webmanifest").content)
    assert manifest["start_url"] == "/app/" and manifest["display"] == "standalone"
    assert {"192x192", "512x512"} <= {icon["sizes"] for icon in manifest["icons"]}
    worker = Client().get("/app/sw.js")
    assert worker.status_code == 200 and worker["Content-Type"].startswith("text/javascript")
    assert worker["Service-Worker-Allowed"] == "/app/"
    assert "/static/app/app.js" in worker.content.decode()
    # Only the service worker keeps a copy of the day.
    assert "no-store" in client.get("/app/data")["Cache-Control"]


def test_the_calendar_page_makes_a_link_with_its_qr_code_and_shows_it_only_then(therapist):
    client = _client(therapist.user)
    first = client.get("/calendar/").content.decode()
    assert "no calendar link yet" in first and "webcal://" not in first
    made = client.post("/calendar/").content.decode()
    assert 'href="webcal://' in made and "<svg" in made and "/feeds/therapists/" in made
    token = made.split("/feeds/therapists/")[1].split(".ics")[0]
    assert Client().get(f"/feeds/therapists/{token}.ics").status_code == 200
    again = client.get("/calendar/").content.decode()
    assert "active since" in again and token not in again
    # Rotating makes a new link and the old one stops.
    rotated = client.post("/calendar/").content.decode()
    assert token not in rotated
    assert Client().get(f"/feeds/therapists/{token}.ics").status_code == 404


def test_facility_staff_subscribe_to_their_facility_and_coordinators_have_no_calendar(facility_staff, coordinator):
    made = _client(facility_staff).post("/calendar/").content.decode()
    assert "/feeds/facilities/" in made and facility_staff.facility.name in made
    assert _client(coordinator).get("/calendar/").status_code == 403
