"""The facility request page, through its real URL: its own patients and visits, nothing else."""
from __future__ import annotations

import json
import re

from django.test import Client

from dispatch.services.booking import visit_book
from tests import factories as f


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _visits(html: str) -> list[dict]:
    return json.loads(re.search(r'<script id="visits-data" type="application/json">(.*?)</script>', html, re.S)[1])


def test_staff_see_their_facilitys_patients_and_requests_and_nothing_of_another(
    organization, coordinator, facility, facility_staff, therapist
):
    therapist.display_name = "Farah Haddad"
    therapist.save()
    mine = f.PatientFactory(organization=organization, facility=facility, first_name="Ada", last_name="Lovelace")
    other_facility = f.FacilityFactory(organization=organization)
    theirs = f.PatientFactory(organization=organization, facility=other_facility, first_name="Zed", last_name="Q")
    requested = f.VisitFactory(organization=organization, patient=mine)
    booked = f.VisitFactory(organization=organization, patient=mine, windows=[("08:00", "17:00")])
    visit_book(visit=booked, therapist=therapist, planned_start=f.local(booked.date, "10:00"), by=coordinator)
    hidden = f.VisitFactory(organization=organization, patient=theirs)

    html = _client(facility_staff).get("/facility/").content.decode()
    assert "Ada Lovelace" in html and "Zed Q" not in html
    rows = {v["id"]: v for v in _visits(html)}
    assert set(rows) == {requested.pk, booked.pk} and hidden.pk not in rows
    assert rows[requested.pk]["editable"] and not rows[booked.pk]["editable"]
    # The therapist by first name only, with the planned time.
    assert rows[booked.pk]["therapist"] == "Farah" and rows[booked.pk]["planned"] == "10:00–10:30"
    assert "Haddad" not in html
    assert "Metastatic" not in html  # the factory's diagnosis: intake stays out of the page


def test_the_request_page_is_for_facility_staff(coordinator, therapist):
    assert _client(coordinator).get("/facility/").status_code == 403
    assert _client(therapist.user).get("/facility/").status_code == 403
    assert Client().get("/facility/").status_code == 302
