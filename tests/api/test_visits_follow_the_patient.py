"""A patient's new room, bed or home address reaches the visits still to come (what the therapist's app, feed and
the board show), not only the patient's record."""
from __future__ import annotations

from dispatch.models import Visit, VisitStatus
from tests import factories as f


def test_a_new_room_reaches_the_booked_and_the_requested_visits_but_not_the_past(world):
    staff = world.clients["staff_x"]
    booked, requested = world.visit_x, f.VisitFactory(organization=world.org, patient=world.patient_x)
    response = staff.patch(f"/api/v1/patients/{world.patient_x.pk}", {"room": "901"}, format="json")
    assert response.status_code == 200, response.content
    for visit in (booked, requested):
        shown = world.clients["coordinator"].get(f"/api/v1/visits/{visit.pk}").json()
        assert "room 901" in shown["location_text"] and "room 12" not in shown["location_text"]
    before = Visit.objects.get(pk=booked.pk)
    assert before.status == VisitStatus.SCHEDULED and before.sequence >= 1  # the calendar event is replaced
    shown_to_therapist = world.clients["therapist"].get(f"/api/v1/visits/{booked.pk}").json()
    assert "room 901" in shown_to_therapist["location_text"]


def test_a_home_patient_who_moved_is_visited_at_the_new_address(world):
    visit = world.visit_home
    response = world.clients["coordinator"].patch(
        f"/api/v1/patients/{world.patient_home.pk}",
        {"address": "40 Bloor St W, Toronto", "lat": 43.669, "lon": -79.389}, format="json",
    )
    assert response.status_code == 200, response.content
    visit.refresh_from_db()
    assert (visit.location_text, visit.lat, visit.lon) == ("40 Bloor St W, Toronto", 43.669, -79.389)


def test_a_patient_moved_to_another_facility_leaves_the_requests_as_the_first_facility_made_them(world):
    visit = world.visit_x
    response = world.clients["coordinator"].patch(
        f"/api/v1/patients/{world.patient_x.pk}", {"facility": world.facility_y.pk}, format="json"
    )
    assert response.status_code == 200, response.content
    visit.refresh_from_db()
    assert visit.facility_id == world.facility_x.pk and "Facility X" in visit.location_text
