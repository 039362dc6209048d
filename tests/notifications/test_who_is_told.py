"""Who hears of a change, through the routes coordinators use: one message per person and change, no one else."""
from __future__ import annotations

import datetime as dt

from django.core.management import call_command

from dispatch import models as m
from tests import factories as f
from tests.conftest import _client_for
from tests.notifications.conftest import DAY, at, emails_to, in_app, travel


def _report_late_and_apply(ward, minutes: int, callbacks) -> dict:
    late = _client_for(ward.t1.user).post(f"/api/v1/visits/{ward.home.pk}/late", {"minutes": minutes}, format="json")
    assert late.status_code == 200, late.data
    with callbacks(execute=True):
        applied = _client_for(ward.coordinator).post(f"/api/v1/plans/{late.data['replan']['id']}/apply")
    assert applied.status_code == 200, applied.data
    return late.data["replan"]


def test_an_applied_replan_tells_the_therapist_and_the_asking_staff_once_each_and_no_one_else(
    ward, django_capture_on_commit_callbacks
):
    with travel("10:00", tick=True):
        proposal = _report_late_and_apply(ward, 90, django_capture_on_commit_callbacks)

    moved = {row["visit"] for row in proposal["diff"]["moved"]}
    assert moved == {ward.home.pk, ward.ward.pk}
    (digest,) = in_app(ward.t1.user)
    assert digest.event == "digest" and digest.urgent
    assert sorted((i["event"], i["visit"]) for i in digest.items) == [
        ("visit.moved", ward.home.pk), ("visit.moved", ward.ward.pk)
    ]
    assert [i["start"] for i in digest.items] == sorted(i["start"] for i in digest.items)  # in the day's order
    for item in digest.items:
        visit = m.Visit.objects.get(pk=item["visit"])
        assert dt.datetime.fromisoformat(item["start"]) == visit.planned_start
        assert item["previous_start"] == at({ward.home.pk: "10:40", ward.ward.pk: "11:30"}[visit.pk]).isoformat()
    (staff_note,) = in_app(ward.asker)
    assert [(i["event"], i["visit"]) for i in staff_note.items] == [("request.moved", ward.ward.pk)]
    for nobody in (ward.t2.user, ward.colleague, ward.coordinator):
        assert in_app(nobody) == [] and emails_to(nobody) == []
    (email,) = emails_to(ward.t1.user)
    assert email.subject == "Rounds: 2 changes to your visits"
    assert "moved from 10:40" in email.body and "moved from 11:30" in email.body
    assert [e.to for e in emails_to(ward.asker)] == [[ward.asker.email]]
    assert len(m.Notification.objects.all()) == 4  # in-app and email, for two people

    call_command("notifications_run", "--once")  # the minute job finds nothing new to send
    assert len(emails_to(ward.t1.user)) == 1


def test_a_small_move_is_not_worth_a_message(ward, django_capture_on_commit_callbacks, settings):
    settings.ROUNDS_NOTIFY_MOVE_MIN = 600
    with travel("10:00", tick=True):
        _report_late_and_apply(ward, 90, django_capture_on_commit_callbacks)
    assert not m.Notification.objects.exists()


def _plan_and_apply(client, day: dt.date, callbacks) -> None:
    created = client.post("/api/v1/plans", {"date": day.isoformat(), "time_limit_s": 1}, format="json")
    assert created.data["status"] == m.PlanStatus.SUCCEEDED, created.data
    with callbacks(execute=True):
        assert client.post(f"/api/v1/plans/{created.data['id']}/apply").status_code == 200


def test_a_day_plan_tells_therapists_of_tomorrow_only_and_the_asking_staff_of_any_day(
    organization, coordinator_client, django_capture_on_commit_callbacks
):
    therapist = f.TherapistFactory(organization=organization)
    staff = f.FacilityStaffFactory(organization=organization)
    patient = f.PatientFactory(organization=organization, facility=staff.facility)
    tomorrow, later = DAY + dt.timedelta(days=1), DAY + dt.timedelta(days=2)
    asked = {
        day: f.VisitFactory(organization=organization, patient=patient, date=day, requested_by=staff)
        for day in (tomorrow, later)
    }
    home = f.VisitFactory(organization=organization, date=tomorrow)

    with travel("16:00", tick=True):
        _plan_and_apply(coordinator_client, tomorrow, django_capture_on_commit_callbacks)
        _plan_and_apply(coordinator_client, later, django_capture_on_commit_callbacks)

    (note,) = in_app(therapist.user)
    assert sorted((i["event"], i["visit"]) for i in note.items) == sorted(
        [("visit.added", asked[tomorrow].pk), ("visit.added", home.pk)]
    )
    assert not note.urgent
    staff_notes = sorted(in_app(staff), key=lambda n: n.pk)
    assert [[(i["event"], i["visit"]) for i in n.items] for n in staff_notes] == [
        [("request.scheduled", asked[tomorrow].pk)], [("request.scheduled", asked[later].pk)]
    ]
    assert staff_notes[0].link.endswith(f"/api/v1/visits/{asked[tomorrow].pk}")


def test_a_cancellation_tells_the_therapist_and_the_staff_who_asked_with_the_reason(
    ward, django_capture_on_commit_callbacks
):
    with travel("09:00"), django_capture_on_commit_callbacks(execute=True):
        response = _client_for(ward.coordinator).post(
            f"/api/v1/visits/{ward.ward.pk}/cancel", {"reason": "Moved to another ward"}, format="json"
        )
    assert response.status_code == 200
    (therapist_note,) = in_app(ward.t1.user)
    assert therapist_note.items[0]["event"] == "visit.cancelled" and therapist_note.items[0]["reason"] == ""
    (staff_note,) = in_app(ward.asker)
    assert staff_note.items[0]["event"] == "request.cancelled"
    assert "Reason: Moved to another ward" in staff_note.body
    assert in_app(ward.colleague) == [] and in_app(ward.t2.user) == []


def test_staff_cancelling_their_own_request_are_not_told_of_it(organization, django_capture_on_commit_callbacks):
    staff = f.FacilityStaffFactory(organization=organization)
    patient = f.PatientFactory(organization=organization, facility=staff.facility)
    visit = f.VisitFactory(organization=organization, patient=patient, requested_by=staff)
    with django_capture_on_commit_callbacks(execute=True):
        response = _client_for(staff).post(
            f"/api/v1/visits/{visit.pk}/transition", {"status": "cancelled", "reason": "Discharged"}, format="json"
        )
    assert response.status_code == 200, response.data
    assert not m.Notification.objects.exists()


def test_a_reassignment_tells_both_therapists(ward, django_capture_on_commit_callbacks):
    ward.home.patient.excluded_therapists.clear()
    with travel("08:00"), django_capture_on_commit_callbacks(execute=True):
        response = _client_for(ward.coordinator).post(
            f"/api/v1/visits/{ward.home.pk}/assign",
            {"therapist": ward.t2.pk, "planned_start": at("12:30").isoformat(), "pinned": True}, format="json",
        )
    assert response.status_code == 200, response.data
    assert [i["event"] for n in in_app(ward.t1.user) for i in n.items] == ["visit.removed"]
    assert [i["event"] for n in in_app(ward.t2.user) for i in n.items] == ["visit.added"]
    assert in_app(ward.asker) == []  # the home visit was not theirs
