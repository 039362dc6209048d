"""A facility's visiting hours bind every visit there as they are now, not as they were when it was requested: a
narrowing (`PATCH /api/v1/facilities/{id}`) unbooks what is booked while the door is shut, booking by hand refuses
a time outside them, and a plan keeps to them (found by an outside tester: all three used to ignore the change)."""
from __future__ import annotations

import datetime as dt

from django.contrib.auth.models import Permission
from django.urls import reverse

from dispatch.models import Visit, VisitStatus
from dispatch.services.booking import visit_book
from tests import factories as f
from tests.admin_forms import admin_change_form_data


def _afternoon_only(world):
    return world.clients["coordinator"].patch(
        f"/api/v1/facilities/{world.facility_y.pk}",
        {"visiting_hours_start": "14:00", "visiting_hours_end": "20:00"}, format="json",
    )


def test_narrower_hours_unbook_what_is_booked_while_the_door_is_shut_and_keep_the_rest(world):
    day = world.visit_y.date
    morning = visit_book(visit=world.visit_y, therapist=world.therapist, planned_start=f.local(day, "10:00"))
    later = f.VisitFactory(organization=world.org, patient=world.patient_y, windows=[("13:00", "17:00")])
    later = visit_book(visit=later, therapist=world.other_therapist, planned_start=f.local(day, "15:00"))

    response = _afternoon_only(world)

    assert response.status_code == 200, response.content
    morning.refresh_from_db()
    assert (morning.status, morning.therapist_id) == (VisitStatus.REQUESTED, None)
    assert morning.status_reason == (
        "Unbooked: Facility Y's visiting hours are now 14:00-20:00, and the visit was booked outside them; it is open "
        "to plan again."
    )
    later.refresh_from_db()
    assert (later.status, later.therapist_id) == (VisitStatus.SCHEDULED, world.other_therapist.pk)
    shown = world.clients["staff_y"].get(f"/api/v1/visits/{morning.pk}").json()
    assert shown["status"] == "requested" and shown["status_reason"] == morning.status_reason


def test_booking_by_hand_outside_the_hours_as_they_are_now_is_refused_with_the_reason(world):
    assert _afternoon_only(world).status_code == 200
    response = world.clients["coordinator"].post(
        f"/api/v1/visits/{world.visit_y.pk}/assign",
        {"therapist": world.therapist.pk, "planned_start": f.local(world.visit_y.date, "10:00").isoformat()},
        format="json",
    )

    assert response.status_code == 400
    assert any("outside Facility Y's visiting hours, 14:00–20:00" in r for r in response.json()["extra"]["reasons"])
    assert Visit.objects.get(pk=world.visit_y.pk).status == VisitStatus.REQUESTED


def test_a_plan_keeps_to_the_hours_and_says_why_a_request_outside_them_is_left_out(world):
    # visit_y asks for 09:00-12:00 at Facility Y; a second request there fits into the new afternoon hours.
    fits = f.VisitFactory(organization=world.org, patient=world.patient_y, windows=[("09:00", "16:00")])
    assert _afternoon_only(world).status_code == 200
    day = world.visit_y.date
    with f.clock_at(f.local(day - dt.timedelta(days=1), "18:00")):
        run = world.clients["coordinator"].post("/api/v1/plans", {"date": str(day), "time_limit_s": 1}, format="json")
        assert run.status_code in (200, 201, 202), run.content
        result = world.clients["coordinator"].get(f"/api/v1/plans/{run.json()['id']}").json()["result"]

    stops = {s["visit_id"]: s for r in result["routes"] for s in r["stops"]}
    left_out = {u["visit_id"]: u for u in result["unassigned"]}
    assert left_out[world.visit_y.pk]["code"] == "outside_visiting_hours"
    assert "inside Facility Y's visiting hours, 14:00-20:00" in left_out[world.visit_y.pk]["reason"]
    start = dt.datetime.fromisoformat(stops[fits.pk]["start"]).astimezone(world.org.tz)
    assert dt.time(14) <= start.time() and start + dt.timedelta(minutes=30) <= f.local(day, "16:00")


def test_the_admins_facility_form_narrowing_the_hours_unbooks_as_the_api_does(client, world):
    day = world.visit_y.date
    morning = visit_book(visit=world.visit_y, therapist=world.therapist, planned_start=f.local(day, "10:00"))
    staff = f.UserFactory(organization=world.org, is_staff=True)
    staff.user_permissions.set(Permission.objects.filter(content_type__app_label="dispatch"))
    client.force_login(staff)
    url = reverse("admin:dispatch_facility_change", args=[world.facility_y.pk])
    data = admin_change_form_data(client.get(url)) | {"visiting_hours_start": "14:00", "visiting_hours_end": "20:00"}

    response = client.post(url, data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    morning.refresh_from_db()
    assert morning.status == VisitStatus.REQUESTED and "visiting hours are now 14:00-20:00" in morning.status_reason
