from __future__ import annotations

import datetime as dt

import pytest

from dispatch.models import Contraindication, ContraindicationKind, Visit, VisitStatus
from tests.factories import local


def _body(w, **overrides):
    day = w.visit_x.date
    body = {
        "patient": w.patient_x.pk,
        "date": day.isoformat(),
        "duration_min": 45,
        "windows": [{"start": local(day, "13:00").isoformat(), "end": local(day, "16:00").isoformat()}],
    }
    return body | overrides


def test_a_95_minute_visit_is_refused_naming_duration_min(world):
    response = world.clients["coordinator"].post("/api/v1/visits", _body(world, duration_min=95), format="json")
    assert response.status_code == 400
    assert "less than or equal to 90" in response.json()["duration_min"][0]


def test_a_window_ending_before_it_starts_is_refused_on_its_end_field(world):
    day = world.visit_x.date
    windows = [{"start": local(day, "15:00").isoformat(), "end": local(day, "14:00").isoformat()}]
    response = world.clients["coordinator"].post("/api/v1/visits", _body(world, windows=windows), format="json")
    assert response.status_code == 400
    # DRF keys list errors by index: the first window's end.
    assert response.json() == {"windows": {"0": {"end": ["The window must end after it starts."]}}}


def test_a_window_on_another_day_is_refused_naming_the_visit_day(world):
    day = world.visit_x.date + dt.timedelta(days=1)
    windows = [{"start": local(day, "13:00").isoformat(), "end": local(day, "14:00").isoformat()}]
    response = world.clients["coordinator"].post("/api/v1/visits", _body(world, windows=windows), format="json")
    assert response.status_code == 400
    assert f"is not on {world.visit_x.date}" in response.json()["windows"][0]
    assert Visit.objects.count() == 3


def test_an_unknown_skill_code_is_refused(world):
    response = world.clients["coordinator"].post(
        "/api/v1/visits", _body(world, required_skills=["reiki-for-cats"]), format="json"
    )
    assert response.status_code == 400
    assert "reiki-for-cats" in response.json()["required_skills"][0]


def test_a_known_skill_code_is_stored_on_the_visit(world, skills):
    body = _body(world, required_skills=["palliative"])
    response = world.clients["coordinator"].post("/api/v1/visits", body, format="json")
    assert response.status_code == 201
    assert response.json()["required_skills"] == ["palliative"]


def test_facility_staff_get_404_for_another_facilitys_patient(world):
    response = world.clients["staff_y"].post("/api/v1/visits", _body(world), format="json")
    assert response.status_code == 404
    assert "was not found" in response.json()["detail"]


def test_facility_staff_requesting_a_visit_cannot_set_a_therapist_it_is_a_400_and_nothing_is_written(world):
    before = Visit.objects.count()
    body = _body(world, therapist=world.therapist.pk, planned_start=local(world.visit_x.date, "13:00").isoformat())
    response = world.clients["staff_x"].post("/api/v1/visits", body, format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"therapist", "planned_start"}
    assert Visit.objects.count() == before


@pytest.mark.parametrize("field", ["therapist", "planned_start", "pinned"])
def test_facility_staff_changing_a_coordinator_field_of_a_visit_get_403(world, field):
    values = {
        "therapist": world.therapist.pk, "planned_start": "2030-01-01T10:00:00Z", "pinned": True, "status": "scheduled"
    }
    value = values[field]
    response = world.clients["staff_y"].patch(f"/api/v1/visits/{world.visit_y.pk}", {field: value}, format="json")
    assert response.status_code == 403
    assert field in response.json()["detail"]


def test_facility_staff_cannot_change_a_visit_once_it_is_scheduled(world):
    response = world.clients["staff_x"].patch(f"/api/v1/visits/{world.visit_x.pk}", {"instructions": "x"}, format="json")
    assert response.status_code == 403
    assert "only while it is still a request" in response.json()["detail"]


def test_the_location_is_derived_from_the_facility_room_and_bed(world):
    body = world.clients["coordinator"].post("/api/v1/visits", _body(world), format="json").json()
    assert body["facility"] == world.facility_x.pk
    assert body["location_text"] == "Facility X, room 12, bed B"
    assert (body["lat"], body["lon"]) == (world.facility_x.lat, world.facility_x.lon)
    assert body["care_setting"] == "hospital"


def test_a_facility_request_reads_and_writes_a_bounded_number_of_times(world, django_assert_max_num_queries):
    # Django's check that each foreign key's row exists is left out (the patient, its organisation and facility,
    # the user: read in the request itself; 4 queries of a request's 25 on PostgreSQL before); the rules on the
    # request's own fields are still checked (the 400s above).
    with django_assert_max_num_queries(21):
        response = world.clients["staff_x"].post("/api/v1/visits", _body(world), format="json")
    assert response.status_code == 201, response.content
    created = Visit.objects.get(pk=response.json()["id"])
    assert (created.patient_id, created.facility_id, created.status) == (world.patient_x.pk, world.facility_x.pk, "requested")
    assert created.requested_by.facility_id == world.facility_x.pk and created.windows.count() == 1


def test_the_location_of_a_home_visit_is_the_patients_address(world):
    request = _body(world, patient=world.patient_home.pk)
    body = world.clients["coordinator"].post("/api/v1/visits", request, format="json").json()
    assert (body["facility"], body["location_text"]) == (None, world.patient_home.address)
    assert body["effective_buffer_min"] == 5


def test_a_patient_with_an_active_contraindication_can_be_requested_and_the_flag_is_shown(world):
    Contraindication.objects.create(
        patient=world.patient_x, kind=ContraindicationKind.FEVER, active_from=world.visit_x.date - dt.timedelta(days=1)
    )
    response = world.clients["coordinator"].post("/api/v1/visits", _body(world), format="json")
    assert response.status_code == 201
    assert response.json()["contraindicated"] is True
    assert response.json()["contraindications"][0]["kind"] == "fever"


def test_changing_the_duration_bumps_the_sequence_but_instructions_do_not(world):
    client, url = world.clients["coordinator"], f"/api/v1/visits/{world.visit_y.pk}"
    before = client.get(url).json()["sequence"]
    assert client.patch(url, {"instructions": "Quiet room"}, format="json").json()["sequence"] == before
    assert client.patch(url, {"duration_min": 60}, format="json").json()["sequence"] == before + 1


def test_a_coordinator_can_assign_through_an_update_and_the_booking_rules_apply(world):
    url = f"/api/v1/visits/{world.visit_y.pk}"
    client = world.clients["coordinator"]
    # Rule-breaking updates first, refused with the rule and changing nothing: over the therapist's 09:00 visit
    # (409, taken), then outside the visit's 09:00-12:00 window (400).
    refusals = {
        "09:00": (409, f"Therapist {world.other_therapist.pk} already has visit {world.visit_home.pk} from 09:00"),
        "15:00": (400, f"Visit {world.visit_y.pk} would run 15:00–15:30, outside every window"),
    }
    for hhmm, (status, reason) in refusals.items():
        clash = {"therapist": world.other_therapist.pk, "planned_start": local(world.visit_y.date, hhmm).isoformat()}
        refused = client.patch(url, clash, format="json")
        assert refused.status_code == status, refused.content
        assert refused.json()["extra"]["reasons"][0].startswith(reason)
        assert client.get(url).json()["therapist"] is None
    # 11:00: the drive from the 09:00 visit to facility Y (the factories' random coordinates) may pass 10:00.
    start = local(world.visit_y.date, "11:00").isoformat()
    change = {"therapist": world.other_therapist.pk, "planned_start": start}
    body = client.patch(url, change, format="json").json()
    assert (body["therapist"], body["status"]) == (world.other_therapist.pk, VisitStatus.SCHEDULED)
    unassigned = client.patch(url, {"therapist": None}, format="json").json()
    assert (unassigned["therapist"], unassigned["status"]) == (None, VisitStatus.REQUESTED)


def test_visits_filter_by_status_and_an_invalid_filter_is_a_400(world):
    client = world.clients["coordinator"]
    scheduled = client.get("/api/v1/visits", {"status": "scheduled"}).json()["results"]
    assert {v["id"] for v in scheduled} == {world.visit_x.pk, world.visit_home.pk}
    assert client.get("/api/v1/visits", {"date_from": "yesterday"}).status_code == 400


def test_patients_filter_by_name_and_therapists_by_skill(world, skills):
    client = world.clients["coordinator"]
    found = client.get("/api/v1/patients", {"name": world.patient_y.last_name[:4]}).json()["results"]
    assert world.patient_y.pk in {p["id"] for p in found}
    world.other_therapist.skills.add(skills["oncology"])
    found = client.get("/api/v1/therapists", {"skill": "oncology"}).json()["results"]
    assert [t["id"] for t in found] == [world.other_therapist.pk]


class TestTransition:
    def test_facility_staff_cancel_their_own_request_with_a_reason(self, world):
        response = world.clients["staff_y"].post(
            f"/api/v1/visits/{world.visit_y.pk}/transition",
            {"status": "cancelled", "reason": "Discharged"},
            format="json"
        )
        assert response.status_code == 200
        assert (response.json()["status"], response.json()["status_reason"]) == ("cancelled", "Discharged")

    def test_facility_staff_cannot_cancel_a_visit_already_scheduled(self, world):
        response = world.clients["staff_x"].post(
            f"/api/v1/visits/{world.visit_x.pk}/transition", {"status": "cancelled", "reason": "x"}, format="json"
        )
        assert response.status_code == 403

    def test_facility_staff_cannot_move_a_visit_to_any_other_status(self, world):
        response = world.clients["staff_y"].post(
            f"/api/v1/visits/{world.visit_y.pk}/transition", {"status": "scheduled"}, format="json"
        )
        assert response.status_code == 403

    def test_a_cancellation_without_a_reason_is_a_400_naming_reason(self, world):
        response = world.clients["coordinator"].post(
            f"/api/v1/visits/{world.visit_x.pk}/transition", {"status": "cancelled"}, format="json"
        )
        assert response.status_code == 400
        assert response.json()["extra"] == {"field": "reason"}

    def test_a_therapist_confirms_their_own_visit(self, world):
        response = world.clients["therapist"].post(
            f"/api/v1/visits/{world.visit_x.pk}/transition", {"status": "confirmed"}, format="json"
        )
        assert (response.status_code, response.json()["status"]) == (200, "confirmed")

    def test_a_transition_the_lifecycle_forbids_is_a_409(self, world):
        response = world.clients["coordinator"].post(
            f"/api/v1/visits/{world.visit_y.pk}/transition", {"status": "completed"}, format="json"
        )
        assert response.status_code == 409
        assert response.json()["code"] == "transition_not_allowed"


def test_the_visit_history_lists_the_changes_for_coordinators(world):
    world.clients["coordinator"].patch(f"/api/v1/visits/{world.visit_y.pk}", {"duration_min": 60}, format="json")
    history = world.clients["coordinator"].get(f"/api/v1/visits/{world.visit_y.pk}/history").json()
    assert history[0]["type"] == "changed"
    assert {"field": "duration_min", "old": 30, "new": 60} in history[0]["changes"]
    assert history[0]["by"] == world.coordinator.username
