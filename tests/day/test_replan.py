from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from dispatch.models import PlanKind, PlanStatus, Priority, Visit, VisitStatus
from dispatch.services.booking import visit_book
from dispatch.services.replan import replan_propose, therapist_now_list
from dispatch.services.visit_actions import visit_check_in, visit_check_out
from tests import factories as f


@pytest.fixture
def today():
    return timezone.localdate(timezone=f.TORONTO)


@pytest.fixture
def morning(therapist, today):
    """09:00 done, 09:50 under way since 09:52, 10:40 and 11:30 still to come (home visits, 30 min + 5 buffer)."""
    visits = []
    # One street: the 15 minutes between visits need no travel (manual bookings check travel).
    for hhmm in ("09:00", "09:50", "10:40", "11:30"):
        patient = f.PatientFactory(organization=therapist.organization, lat=43.66, lon=-79.40)
        visit = f.VisitFactory(
            organization=therapist.organization, patient=patient, date=today, windows=[("08:00", "16:00")]
        )
        visits.append(visit_book(visit=visit, therapist=therapist, planned_start=f.local(today, hhmm)))
    visit_check_in(visit=visits[0], by=therapist.user, at=f.local(today, "09:01"))
    visit_check_out(visit=visits[0], by=therapist.user, at=f.local(today, "09:31"))
    visit_check_in(visit=visits[1], by=therapist.user, at=f.local(today, "09:52"))
    return visits


def test_a_therapist_starts_from_the_visit_under_way_once_it_and_its_buffer_are_over(therapist, morning, today):
    states = therapist_now_list(organization=therapist.organization, day=today, now=f.local(today, "10:00"))

    state = states[therapist.pk]
    assert (state.lat, state.lon) == (morning[1].lat, morning[1].lon)
    assert state.free_from_min == 10 * 60 + 27  # planned busy until 10:25, started 2 min late
    assert state.last_visit_id == morning[1].pk


def test_a_reported_delay_is_added_to_where_the_therapist_is_free(therapist, morning, today):
    Visit.objects.filter(pk=morning[2].pk).update(delay_min=25)

    states = therapist_now_list(organization=therapist.organization, day=today, now=f.local(today, "10:00"))

    assert states[therapist.pk].free_from_min == 10 * 60 + 27 + 25


def test_replan_keeps_finished_and_started_visits_and_moves_the_rest_after_the_delay(
    therapist, coordinator, morning, today
):
    Visit.objects.filter(pk=morning[2].pk).update(delay_min=25)

    run = replan_propose(organization=therapist.organization, now=f.local(today, "10:00"), by=coordinator)

    assert run.kind == PlanKind.REPLAN
    assert run.status == PlanStatus.SUCCEEDED, run.error
    touched = {row["visit"] for rows in run.result["diff"].values() for row in rows}
    assert morning[0].pk not in touched and morning[1].pk not in touched
    assert set(run.input_sequences) == {str(morning[2].pk), str(morning[3].pk)}
    moved = {row["visit"]: row for row in run.result["diff"]["moved"]}
    assert dt.datetime.fromisoformat(moved[morning[2].pk]["new_start"]) >= f.local(today, "10:52")


def test_replan_inserts_an_urgent_same_day_request(therapist, coordinator, morning, today):
    urgent = f.VisitFactory(
        organization=therapist.organization, date=today, priority=Priority.URGENT, windows=[("10:00", "14:00")]
    )

    run = replan_propose(organization=therapist.organization, now=f.local(today, "10:00"), by=coordinator)

    assert [row["visit"] for row in run.result["diff"]["added"]] == [urgent.pk]


def test_replan_drops_what_no_longer_fits_with_a_reason(therapist, coordinator, today):
    visit = f.VisitFactory(organization=therapist.organization, date=today, windows=[("09:00", "10:00")])
    visit_book(visit=visit, therapist=therapist, planned_start=f.local(today, "09:30"))
    Visit.objects.filter(pk=visit.pk).update(delay_min=120)

    run = replan_propose(organization=therapist.organization, now=f.local(today, "09:00"), by=coordinator)

    dropped = run.result["diff"]["dropped"]
    assert [row["visit"] for row in dropped] == [visit.pk]
    assert dropped[0]["reason"]


def test_coordinator_asks_for_a_replan_and_reads_its_diff(therapist, coordinator_client, morning, today):
    created = coordinator_client.post("/api/v1/replan", {"now": f.local(today, "10:00").isoformat()}, format="json")
    diff = coordinator_client.get(f"/api/v1/plans/{created.data['id']}/diff")

    assert created.status_code == 201, created.data
    assert set(created.data["diff"]) == {"moved", "reassigned", "dropped", "added"}
    assert diff.status_code == 200
    assert diff.data["diff"] == created.data["diff"]


def test_therapists_may_not_ask_for_a_replan(therapist_client):
    assert therapist_client.post("/api/v1/replan", {}, format="json").status_code == 403


def test_a_late_report_triggers_a_replan_proposal(therapist, therapist_client, morning):
    response = therapist_client.post(f"/api/v1/visits/{morning[2].pk}/late", {"minutes": 25}, format="json")

    assert response.status_code == 200, response.data
    assert response.data["replan"]["kind"] == PlanKind.REPLAN
    assert response.data["replan"]["parameters"]["trigger"] == f"late:{morning[2].pk}"
    assert Visit.objects.get(pk=morning[2].pk).status == VisitStatus.SCHEDULED


def test_applying_a_replan_moves_the_visits_and_the_therapist_sees_the_new_times(
    therapist, coordinator_client, morning, today
):
    Visit.objects.filter(pk=morning[2].pk).update(delay_min=25)
    proposal = coordinator_client.post("/api/v1/replan", {"now": f.local(today, "10:00").isoformat()}, format="json")

    applied = coordinator_client.post(f"/api/v1/replan/{proposal.data['id']}/apply", {}, format="json")

    assert applied.status_code == 200, applied.data
    assert applied.data["applied_at"]
    moved = {row["visit"]: row["new_start"] for row in proposal.data["diff"]["moved"]}
    assert moved
    for visit_id, new_start in moved.items():
        visit = Visit.objects.get(pk=visit_id)
        assert visit.planned_start == dt.datetime.fromisoformat(new_start)
        assert visit.history.first().history_change_reason == f"re-plan {proposal.data['id']}"
    assert Visit.objects.get(pk=morning[0].pk).status == VisitStatus.COMPLETED
    assert Visit.objects.get(pk=morning[2].pk).delay_min == 0  # absorbed: a next re-plan must not add it again


def test_applying_a_replan_after_a_visit_changed_is_a_conflict(therapist, coordinator_client, morning, today):
    proposal = coordinator_client.post("/api/v1/replan", {"now": f.local(today, "10:00").isoformat()}, format="json")
    coordinator_client.post(f"/api/v1/visits/{morning[3].pk}/cancel", {"reason": "Family asked"}, format="json")

    applied = coordinator_client.post(f"/api/v1/replan/{proposal.data['id']}/apply", {}, format="json")
    again = coordinator_client.post(f"/api/v1/replan/{proposal.data['id']}/apply", {}, format="json")

    assert applied.status_code == 409
    assert f"Visits {morning[3].pk} changed since plan" in applied.data["detail"]
    assert again.status_code == 409


def test_a_replan_is_applied_only_once(coordinator_client, morning, today):
    proposal = coordinator_client.post("/api/v1/replan", {"now": f.local(today, "10:00").isoformat()}, format="json")

    first = coordinator_client.post(f"/api/v1/replan/{proposal.data['id']}/apply", {}, format="json")
    second = coordinator_client.post(f"/api/v1/replan/{proposal.data['id']}/apply", {}, format="json")

    assert first.status_code == 200
    assert second.status_code == 409
    assert "not applied yet" in second.data["detail"]


def test_a_therapist_whose_last_visit_is_done_is_free_after_its_buffer(therapist, today):
    visit = f.VisitFactory(organization=therapist.organization, date=today, windows=[("08:00", "16:00")])
    visit = visit_book(visit=visit, therapist=therapist, planned_start=f.local(today, "09:00"))
    visit_check_in(visit=visit, by=therapist.user, at=f.local(today, "09:00"))
    visit_check_out(visit=visit, by=therapist.user, at=f.local(today, "09:50"))

    states = therapist_now_list(organization=therapist.organization, day=today, now=f.local(today, "09:30"))

    assert states[therapist.pk].free_from_min == 9 * 60 + 55
