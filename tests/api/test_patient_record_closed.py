"""A patient made inactive (`PATCH /api/v1/patients/{id}` with active false: discharged, moved away, died) is
visited no more: their visits still to come are cancelled with the reason at once, and no new visit can be asked
for them (found by an outside tester: both were accepted and planned)."""
from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from dispatch.models import Visit, VisitSeries, VisitStatus
from dispatch.services.visit_status import visit_transition
from tests import factories as f
from tests.admin_forms import admin_change_form_data


def _close(client, patient):
    return client.patch(f"/api/v1/patients/{patient.pk}", {"active": False}, format="json")


@pytest.mark.parametrize("who", ["coordinator", "staff_x"])
def test_closing_a_record_cancels_the_visits_to_come_and_says_why(world, who):
    booked, requested = world.visit_x, f.VisitFactory(organization=world.org, patient=world.patient_x)
    past = f.VisitFactory(organization=world.org, patient=world.patient_x)
    Visit.objects.filter(pk=past.pk).update(date=booked.date - dt.timedelta(days=5))

    response = _close(world.clients[who], world.patient_x)

    assert response.status_code == 200, response.content
    for visit in (booked, requested):
        visit.refresh_from_db()
        assert (visit.status, visit.status_reason) == (
            VisitStatus.CANCELLED, "Cancelled: the patient's record was closed (made inactive)."
        )
    assert Visit.objects.get(pk=past.pk).status == VisitStatus.REQUESTED  # a past day's record is left as it was
    shown = world.clients["therapist"].get(f"/api/v1/visits/{booked.pk}")
    assert shown.status_code == 200 and shown.json()["status"] == "cancelled"


def test_no_visit_can_be_asked_for_a_closed_record_one_by_one_or_as_a_series(world):
    assert _close(world.clients["coordinator"], world.patient_x).status_code == 200
    day = world.visit_x.date
    one = world.clients["staff_x"].post("/api/v1/visits", {
        "patient": world.patient_x.pk, "date": day.isoformat(), "duration_min": 30,
        "windows": [{"start": f.local(day, "13:00").isoformat(), "end": f.local(day, "16:00").isoformat()}],
    }, format="json")
    series = world.clients["coordinator"].post("/api/v1/visit-series", {
        "patient": world.patient_x.pk, "weekdays": [0, 1, 2, 3, 4], "window_start": "13:00", "window_end": "16:00",
        "duration_min": 30, "starts_on": day.isoformat(), "ends_on": (day + dt.timedelta(days=13)).isoformat(),
    }, format="json")

    for response in (one, series):
        assert response.status_code == 400, response.content
        assert response.json() == {
            "patient": [f"Patient {world.patient_x.pk}'s record is closed (inactive); reopen it to request visits."]
        }
    assert not Visit.objects.filter(patient=world.patient_x, status=VisitStatus.REQUESTED).exists()
    assert not VisitSeries.objects.exists()  # nothing half made


def test_a_record_is_not_closed_during_a_session_and_nothing_is_cancelled(world):
    visit = world.visit_x
    with f.clock_at(visit.planned_start):
        visit_transition(visit=visit, target=VisitStatus.IN_PROGRESS)
        later = f.VisitFactory(organization=world.org, patient=world.patient_x)
        response = _close(world.clients["coordinator"], world.patient_x)

    assert response.status_code == 409
    assert f"in visit {visit.pk} now" in response.json()["detail"]
    world.patient_x.refresh_from_db()
    assert world.patient_x.active is True
    assert Visit.objects.get(pk=later.pk).status == VisitStatus.REQUESTED


@pytest.mark.parametrize("in_a_session", [False, True])
def test_the_admins_patient_form_closes_a_record_as_the_api_does(client, world, in_a_session):
    staff = f.UserFactory(organization=world.org, is_staff=True)
    staff.user_permissions.set(Permission.objects.filter(content_type__app_label="dispatch"))
    url = reverse("admin:dispatch_patient_change", args=[world.patient_x.pk])
    visit = world.visit_x
    with f.clock_at(visit.planned_start):
        client.force_login(staff)
        if in_a_session:
            visit_transition(visit=visit, target=VisitStatus.IN_PROGRESS)
        data = admin_change_form_data(client.get(url))
        data.pop("active")
        response = client.post(url, data)

    world.patient_x.refresh_from_db()
    visit.refresh_from_db()
    if in_a_session:
        assert response.status_code == 200 and "close the record once it has ended" in response.content.decode()
        assert world.patient_x.active is True and visit.status == VisitStatus.IN_PROGRESS
    else:
        assert response.status_code == 302, response.context["adminform"].form.errors
        assert world.patient_x.active is False
        assert (visit.status, visit.status_reason) == (
            VisitStatus.CANCELLED, "Cancelled: the patient's record was closed (made inactive)."
        )
