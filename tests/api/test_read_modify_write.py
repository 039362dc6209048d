"""A client that reads a record, changes one field and sends the whole record back (what most scripts and
integration tools do): what it echoes unchanged is accepted, what it changed but cannot write is still a 400."""
from __future__ import annotations

import pytest

from dispatch.models import Facility, Therapist, Visit, VisitStatus


def test_a_therapist_read_changed_and_put_back_whole_is_saved(world):
    client = world.clients["coordinator"]
    body = client.get(f"/api/v1/therapists/{world.therapist.pk}").json()
    body["display_name"] = "Farah Haddad-Ortiz"
    response = client.put(f"/api/v1/therapists/{world.therapist.pk}", body, format="json")
    assert response.status_code == 200, response.content
    assert Therapist.objects.get(pk=world.therapist.pk).display_name == "Farah Haddad-Ortiz"
    assert response.json()["display_name"] == "Farah Haddad-Ortiz"


def test_a_facility_read_changed_and_patched_back_whole_is_saved(world):
    client = world.clients["coordinator"]
    body = client.get(f"/api/v1/facilities/{world.facility_x.pk}").json()
    body["name"] = "Facility X, north wing"
    response = client.patch(f"/api/v1/facilities/{world.facility_x.pk}", body, format="json")
    assert response.status_code == 200, response.content
    assert Facility.objects.get(pk=world.facility_x.pk).name == "Facility X, north wing"


@pytest.mark.parametrize("key, value", [("id", 999999), ("created_at", "2020-01-01T00:00:00Z")])
def test_a_read_only_field_changed_in_the_echo_is_a_400_and_nothing_is_saved(world, key, value):
    client = world.clients["coordinator"]
    body = client.get(f"/api/v1/therapists/{world.therapist.pk}").json()
    body[key], body["display_name"] = value, "Not saved"
    response = client.put(f"/api/v1/therapists/{world.therapist.pk}", body, format="json")
    assert response.status_code == 400 and key in response.json()
    assert Therapist.objects.get(pk=world.therapist.pk).display_name != "Not saved"


def test_a_visit_read_changed_and_patched_back_whole_is_saved_but_a_changed_status_is_refused(world):
    client = world.clients["coordinator"]
    visit = world.visit_y  # a request: no booking to keep
    body = client.get(f"/api/v1/visits/{visit.pk}").json()
    body["instructions"] = "Ring the ward clerk first"
    response = client.patch(f"/api/v1/visits/{visit.pk}", body, format="json")
    assert response.status_code == 200, response.content
    assert Visit.objects.get(pk=visit.pk).instructions == "Ring the ward clerk first"

    body["status"], body["instructions"] = VisitStatus.CANCELLED, "Not saved"
    response = client.patch(f"/api/v1/visits/{visit.pk}", body, format="json")
    assert response.status_code == 400 and "/transition" in response.json()["status"][0]
    assert Visit.objects.get(pk=visit.pk).instructions == "Ring the ward clerk first"


def test_facility_staff_echoing_their_request_whole_is_not_refused_for_coordinator_fields_left_alone(world):
    client = world.clients["staff_y"]
    visit = world.visit_y
    body = client.get(f"/api/v1/visits/{visit.pk}").json()
    body["instructions"] = "Bed by the window"
    response = client.patch(f"/api/v1/visits/{visit.pk}", body, format="json")
    assert response.status_code == 200, response.content
    body["pinned"] = not body.get("pinned", False)
    assert client.patch(f"/api/v1/visits/{visit.pk}", body, format="json").status_code == 403
