"""A payer's authorisation through `PATCH /api/v1/patients/{id}`: units lowered (or used units raised) by a
coordinator unbook the last visits still to come that they no longer cover, with the reason, in the same
transaction; facility staff read the units but cannot change them (a ward clerk could otherwise raise the limit, or
set used back to 0, and book sessions nobody pays for)."""
from __future__ import annotations

import datetime as dt

import pytest

from dispatch.models import VisitStatus
from dispatch.services.booking import visit_book
from tests import factories as f

WEDNESDAY = dt.date(2027, 1, 13)


@pytest.fixture
def patient(organization, facility):
    return f.PatientFactory(organization=organization, facility=facility, units_authorized=6, units_used=1)


@pytest.fixture
def booked(patient, therapist, coordinator):
    """Yesterday's visit (booked, not yet closed: it holds a unit) and the four days to come, in that order."""
    visits = []
    for offset in (-1, 0, 1, 2, 3):
        day = WEDNESDAY + dt.timedelta(days=offset)
        visit = f.VisitFactory(organization=patient.organization, patient=patient, facility=patient.facility,
                               date=day, windows=[("08:00", "16:00")])
        visits.append(visit_book(visit=visit, therapist=therapist, planned_start=f.local(day, "14:00"), by=coordinator))
    return visits


def _statuses(visits) -> list[str]:
    for visit in visits:
        visit.refresh_from_db()
    return [visit.status for visit in visits]


def test_lowering_the_units_unbooks_the_last_visits_they_no_longer_cover(patient, booked, coordinator_client):
    # 3 authorised, 1 used, yesterday's holds one: one unit is left, for today's visit.
    with f.clock_at(f.local(WEDNESDAY, "10:00")):
        response = coordinator_client.patch(f"/api/v1/patients/{patient.pk}", {"units_authorized": 3}, format="json")

    assert response.status_code == 200, response.content
    assert _statuses(booked) == [VisitStatus.SCHEDULED, VisitStatus.SCHEDULED] + [VisitStatus.REQUESTED] * 3
    assert all(v.therapist_id is None for v in booked[2:])
    assert booked[4].status_reason == (
        "Unbooked: the patient's authorised units (3, 1 used) no longer cover this visit; it waits for the payer "
        "to authorise more."
    )
    # What is left booked is what the payer pays for.
    assert patient.__class__.objects.get(pk=patient.pk).units_used + 2 <= 3


def test_units_used_raised_by_a_coordinator_unbook_too_and_enough_units_keep_every_booking(
    patient, booked, coordinator_client
):
    with f.clock_at(f.local(WEDNESDAY, "10:00")):
        assert coordinator_client.patch(
            f"/api/v1/patients/{patient.pk}", {"units_authorized": 20}, format="json"
        ).status_code == 200
        assert _statuses(booked) == [VisitStatus.SCHEDULED] * 5
        response = coordinator_client.patch(f"/api/v1/patients/{patient.pk}", {"units_used": 17}, format="json")

    assert response.status_code == 200, response.content
    assert _statuses(booked) == [VisitStatus.SCHEDULED] * 3 + [VisitStatus.REQUESTED] * 2


@pytest.mark.parametrize("change", [{"units_authorized": 40}, {"units_authorized": None}, {"units_used": 0}])
def test_facility_staff_cannot_change_the_units(patient, booked, facility_staff_client, change):
    response = facility_staff_client.patch(f"/api/v1/patients/{patient.pk}", change, format="json")

    assert response.status_code == 400, response.content
    (field,) = change
    assert "recorded by the agency's coordinators" in response.json()[field][0]
    patient.refresh_from_db()
    assert (patient.units_authorized, patient.units_used) == (6, 1)


def test_facility_staff_still_edit_the_rest_and_may_send_the_units_back_unchanged(patient, facility_staff_client):
    shown = facility_staff_client.get(f"/api/v1/patients/{patient.pk}").json()
    assert (shown["units_authorized"], shown["units_used"]) == (6, 1)
    response = facility_staff_client.patch(
        f"/api/v1/patients/{patient.pk}", {"room": "4B", "units_authorized": 6, "units_used": 1}, format="json"
    )
    assert response.status_code == 200, response.content
    patient.refresh_from_db()
    assert patient.room == "4B"


def test_facility_staff_register_a_patient_without_units(facility_staff_client, facility):
    body = {"first_name": "Ada", "last_name": "Moss", "address": "1 King St W, Toronto", "lat": 43.65, "lon": -79.38}
    refused = facility_staff_client.post("/api/v1/patients", {**body, "units_authorized": 12}, format="json")
    assert refused.status_code == 400 and "units_authorized" in refused.json()
    created = facility_staff_client.post("/api/v1/patients", body, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["units_authorized"] is None and created.json()["facility"] == facility.pk


def test_a_revert_in_the_admins_history_to_fewer_units_unbooks_what_they_no_longer_cover(
    patient, booked, coordinator_client, organization, client
):
    """django-simple-history's revert saves the patient without the admin's save_related: the unbooking follows
    it all the same (the helper that found it reverted to an older version and kept a visit nobody pays for)."""
    from django.contrib.auth.models import Permission

    with f.clock_at(f.local(WEDNESDAY, "10:00")):
        assert coordinator_client.patch(
            f"/api/v1/patients/{patient.pk}", {"units_authorized": 3}, format="json"
        ).status_code == 200
        fewer = patient.history.order_by("-history_id").first()
        assert coordinator_client.patch(
            f"/api/v1/patients/{patient.pk}", {"units_authorized": 20}, format="json"
        ).status_code == 200
        for visit in booked[2:]:
            assert coordinator_client.post(
                f"/api/v1/visits/{visit.pk}/assign",
                {"therapist": booked[0].therapist_id, "planned_start": f.local(visit.date, "14:00").isoformat()},
                format="json",
            ).status_code == 200
        assert _statuses(booked) == [VisitStatus.SCHEDULED] * 5

        staff = f.UserFactory(organization=organization, is_staff=True)
        staff.user_permissions.set(Permission.objects.filter(content_type__app_label="dispatch"))
        client.force_login(staff)
        url = f"/admin/dispatch/patient/{patient.pk}/history/{fewer.history_id}/"
        form = client.get(url).context["adminform"].form
        data = {}
        for name, field in form.fields.items():
            value = form[name].value()
            if isinstance(value, (list, tuple)):
                data[name] = [getattr(v, "pk", v) for v in value]
            elif value is not None:
                data[name] = value
        assert str(data["units_authorized"]) == "3"
        reverted = client.post(url, {**data, "_save": "Save"})

    assert reverted.status_code == 302, reverted.content[:500]
    patient.refresh_from_db()
    assert patient.units_authorized == 3
    assert _statuses(booked) == [VisitStatus.SCHEDULED, VisitStatus.SCHEDULED] + [VisitStatus.REQUESTED] * 3
