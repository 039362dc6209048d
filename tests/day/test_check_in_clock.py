"""Check-in and check-out follow the clock, and what they record is what every later plan sees."""
from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from dispatch.models import PlanRun, Visit, VisitStatus
from dispatch.services.booking import visit_book
from tests import factories as f
from tests.clients import signed_in

HERE = {"lat": 43.66, "lon": -79.40}


def _book(therapist, hhmm: str, *, day=None, windows=(("08:00", "16:00"),), **visit) -> Visit:
    day = day or f.tomorrow()
    patient = f.PatientFactory(organization=therapist.organization, **HERE)
    requested = f.VisitFactory(
        organization=therapist.organization, patient=patient, date=day, windows=list(windows), **visit
    )
    return visit_book(visit=requested, therapist=therapist, planned_start=f.local(day, hhmm))


def _check_in(client, visit, at: dt.datetime | None = None):
    if at is None:
        return client.post(f"/api/v1/visits/{visit.pk}/check-in", {}, format="json")
    with f.clock_at(at):
        return client.post(f"/api/v1/visits/{visit.pk}/check-in", {"at": at.isoformat()}, format="json")


def _check_out(client, visit, at: dt.datetime):
    with f.clock_at(at):
        return client.post(f"/api/v1/visits/{visit.pk}/check-out", {"at": at.isoformat()}, format="json")


def _instants(body: dict, *fields: str) -> tuple[dt.datetime, ...]:
    return tuple(dt.datetime.fromisoformat(body[name]) for name in fields)


def test_check_in_a_day_early_is_refused_saying_when_it_opens(therapist, therapist_client):
    visit = _book(therapist, "09:00")

    response = _check_in(therapist_client, visit)

    assert response.status_code == 409
    assert response.data["detail"] == (
        f"Visit {visit.pk} is planned for 09:00 on {visit.date}; check-in opens 2 h before, at 07:00 on {visit.date}. "
        "Nothing was recorded."
    )
    visit.refresh_from_db()
    assert (visit.status, visit.actual_start) == (VisitStatus.SCHEDULED, None)


def test_check_in_opens_two_hours_before_the_planned_start(therapist, therapist_client):
    visit = _book(therapist, "09:00")

    too_early = _check_in(therapist_client, visit, f.local(visit.date, "06:59"))
    on_time = _check_in(therapist_client, visit, f.local(visit.date, "07:00"))

    assert too_early.status_code == 409 and too_early.data["extra"]["opens_at"].startswith(f"{visit.date}T07:00")
    assert on_time.status_code == 200, on_time.data


def test_check_in_after_the_planned_day_is_refused(therapist, therapist_client):
    yesterday = timezone.localdate(timezone=f.TORONTO) - dt.timedelta(days=1)
    visit = _book(therapist, "15:00", day=yesterday)

    response = _check_in(therapist_client, visit)

    assert response.status_code == 409
    assert f"check-in closed at 00:00 on {yesterday + dt.timedelta(days=1)}" in response.data["detail"]


def test_the_check_in_margin_is_configurable(therapist, therapist_client, settings):
    settings.ROUNDS_CHECK_IN_EARLY_MIN, settings.ROUNDS_CHECK_IN_LATE_MIN = 15, 30
    early, late = _book(therapist, "09:00"), _book(therapist, "11:00")

    assert _check_in(therapist_client, early, f.local(early.date, "08:44")).status_code == 409
    assert _check_in(therapist_client, late, f.local(late.date, "11:30")).status_code == 409
    assert "check-in closed at 11:30" in _check_in(therapist_client, late, f.local(late.date, "11:31")).data["detail"]
    assert _check_in(therapist_client, early, f.local(early.date, "08:45")).status_code == 200


def test_the_transition_endpoint_keeps_the_check_in_clock(therapist, therapist_client):
    visit = _book(therapist, "09:00")

    response = therapist_client.post(f"/api/v1/visits/{visit.pk}/transition", {"status": "in_progress"}, format="json")

    assert response.status_code == 409 and "check-in opens" in response.data["detail"]


def test_a_second_check_in_while_another_visit_is_under_way_is_refused(therapist, therapist_client):
    first, second = _book(therapist, "09:00"), _book(therapist, "10:00")
    _check_in(therapist_client, first, f.local(first.date, "09:00"))

    response = _check_in(therapist_client, second, f.local(second.date, "09:20"))

    assert response.status_code == 409
    assert response.data["detail"] == (
        f"Therapist {therapist.pk} is still in visit {first.pk} (checked in at 09:00 on {first.date}); "
        "check out of it first."
    )


def test_check_out_seconds_after_check_in_flags_the_visit_for_the_coordinator(
    therapist, therapist_client, coordinator_client
):
    visit = _book(therapist, "09:00", duration_min=25)
    at = f.local(visit.date, "09:00")
    _check_in(therapist_client, visit, at)

    response = _check_out(therapist_client, visit, at + dt.timedelta(seconds=3))
    seen = coordinator_client.get(f"/api/v1/visits/{visit.pk}").data

    assert response.status_code == 200
    assert response.data["warning"] == "Checked out after 3 s of a 25-minute session; flagged for the coordinator."
    assert response.data["visit"]["ended_early"] is True
    assert seen["ended_early"] is True and seen["status"] == VisitStatus.COMPLETED
    assert seen["status_reason"] == response.data["warning"]


def test_check_out_after_most_of_the_session_is_not_flagged(therapist, therapist_client, settings):
    settings.ROUNDS_CHECK_OUT_MIN_SHARE = 0.5
    visit = _book(therapist, "09:00")
    _check_in(therapist_client, visit, f.local(visit.date, "09:00"))

    response = _check_out(therapist_client, visit, f.local(visit.date, "09:15"))

    assert response.data["warning"] is None and response.data["visit"]["ended_early"] is False


def test_the_held_time_follows_the_real_start_and_end(therapist, therapist_client):
    visit, later = _book(therapist, "09:00"), _book(therapist, "09:40")

    _check_in(therapist_client, visit, f.local(visit.date, "09:10"))
    later.refresh_from_db()
    assert later.planned_start == f.local(later.date, "09:45")  # 09:10 + 30 min + 5 min buffer
    _check_out(therapist_client, visit, f.local(visit.date, "09:55"))

    visit.refresh_from_db()
    later.refresh_from_db()
    assert (visit.planned_start, visit.planned_end) == (visit.actual_start, visit.actual_end)
    assert visit.planned_busy_until == f.local(visit.date, "10:00")
    assert later.planned_start == f.local(later.date, "10:00")
    assert later.history.first().history_change_reason == "pushed 15 min by checked out at 09:55"


def _plan_and_apply(client, day):
    run = client.post("/api/v1/plans", {"date": str(day), "time_limit_s": 1}, format="json").data
    assert run["status"] == "succeeded", run["error"]
    return run, client.post(f"/api/v1/plans/{run['id']}/apply", format="json")


def test_a_visit_finished_early_does_not_block_the_days_later_plans(
    therapist, therapist_client, coordinator_client, organization
):
    """Checked in and out well before its planned 10:00: the plan may use 10:00, and apply agrees."""
    finished = _book(therapist, "10:00")
    _check_in(therapist_client, finished, f.local(finished.date, "08:30"))
    _check_out(therapist_client, finished, f.local(finished.date, "08:45"))
    patient = f.PatientFactory(organization=organization, **HERE)
    request = f.VisitFactory(organization=organization, patient=patient, date=finished.date, windows=[("10:00", "10:40")])

    run, applied = _plan_and_apply(coordinator_client, finished.date)

    assert applied.status_code == 200, applied.data
    request.refresh_from_db()
    assert request.therapist_id == therapist.pk and request.planned_start < f.local(request.date, "10:35")


def test_a_day_plan_made_while_a_visit_is_under_way_leaves_its_time_alone(
    therapist, therapist_client, coordinator_client, organization
):
    under_way = _book(therapist, "10:00")
    _check_in(therapist_client, under_way, f.local(under_way.date, "09:50"))
    patient = f.PatientFactory(organization=organization, **HERE)
    # It can only start at 10:00, while the therapist is held until 10:25 (09:50 + 30 min + 5 min buffer).
    request = f.VisitFactory(organization=organization, patient=patient, date=under_way.date, windows=[("10:00", "10:30")])
    fits_later = f.VisitFactory(
        organization=organization, patient=patient, date=under_way.date, windows=[("10:00", "11:30")]
    )

    run, applied = _plan_and_apply(coordinator_client, under_way.date)

    assert applied.status_code == 200, applied.data
    assert request.pk in {u["visit_id"] for u in run["result"]["unassigned"]}
    fits_later.refresh_from_db()
    assert fits_later.planned_start >= f.local(fits_later.date, "10:25")
    assert Visit.objects.get(pk=under_way.pk).status == VisitStatus.IN_PROGRESS


@pytest.mark.parametrize("now", ["09:00", "10:10"])
def test_a_replan_around_a_finished_visit_applies(therapist, therapist_client, coordinator_client, organization, now):
    today = timezone.localdate(timezone=f.TORONTO)
    finished = _book(therapist, "10:00", day=today)
    _check_in(therapist_client, finished, f.local(today, "08:30"))
    _check_out(therapist_client, finished, f.local(today, "08:45"))
    patient = f.PatientFactory(organization=organization, **HERE)
    f.VisitFactory(organization=organization, patient=patient, date=today, windows=[("10:00", "11:00")])

    proposal = coordinator_client.post("/api/v1/replan", {"now": f.local(today, now).isoformat()}, format="json")
    applied = coordinator_client.post(f"/api/v1/plans/{proposal.data['id']}/apply", {}, format="json")

    assert proposal.data["status"] == "succeeded", proposal.data["error"]
    assert applied.status_code == 200, applied.data


def _skew_refusal(at: dt.datetime, now: dt.datetime, ahead: str) -> list[str]:
    latest = now + dt.timedelta(minutes=5)
    return [
        f"{at.isoformat()} is {ahead} ahead of the server's clock ({now.isoformat()}); the latest time accepted now "
        f"is {latest.isoformat()}. Check the device's clock, or leave the time out to record now."
    ]


def test_a_check_in_dated_ahead_of_the_server_clock_is_refused_on_at(therapist, therapist_client):
    visit = _book(therapist, "09:00")
    now, at = f.local(visit.date, "08:00"), f.local(visit.date, "09:30")

    with f.clock_at(now):
        response = therapist_client.post(f"/api/v1/visits/{visit.pk}/check-in", {"at": at.isoformat()}, format="json")

    assert response.status_code == 400
    assert response.data == {"at": _skew_refusal(at, now, "1 h 30 min")}
    visit.refresh_from_db()
    assert (visit.status, visit.actual_start) == (VisitStatus.SCHEDULED, None)
    assert visit.planned_start == f.local(visit.date, "09:00")


@pytest.mark.parametrize(("skew_min", "ahead_s", "status"), [(5, 4 * 60, 200), (5, 5 * 60 + 1, 400), (0, 1, 400)])
def test_a_check_in_ahead_within_the_clock_skew_is_recorded_as_now(
    therapist, therapist_client, settings, skew_min, ahead_s, status
):
    settings.ROUNDS_CLOCK_SKEW_MIN = skew_min
    visit = _book(therapist, "09:00")
    now = f.local(visit.date, "09:00")

    with f.clock_at(now):
        response = therapist_client.post(
            f"/api/v1/visits/{visit.pk}/check-in",
            {"at": (now + dt.timedelta(seconds=ahead_s)).isoformat()}, format="json",
        )

    assert response.status_code == status, response.data
    visit.refresh_from_db()
    assert visit.actual_start == (now if status == 200 else None)
    if status == 400:
        latest = now + dt.timedelta(minutes=skew_min)
        assert list(response.data) == ["at"]
        assert f"the latest time accepted now is {latest.isoformat()}." in response.data["at"][0]


def test_a_check_out_dated_ahead_of_the_server_clock_is_refused_on_at(therapist, therapist_client):
    visit = _book(therapist, "09:00")
    _check_in(therapist_client, visit, f.local(visit.date, "09:00"))
    now, at = f.local(visit.date, "09:10"), f.local(visit.date, "09:30")

    with f.clock_at(now):
        response = therapist_client.post(f"/api/v1/visits/{visit.pk}/check-out", {"at": at.isoformat()}, format="json")

    assert response.status_code == 400
    assert response.data == {"at": _skew_refusal(at, now, "20 min")}
    visit.refresh_from_db()
    assert (visit.status, visit.actual_end) == (VisitStatus.IN_PROGRESS, None)


def test_a_phone_sending_once_it_has_signal_records_the_past_times(therapist, therapist_client, coordinator_client):
    visit = _book(therapist, "09:00")
    start, end = f.local(visit.date, "09:02"), f.local(visit.date, "09:33")

    with f.clock_at(f.local(visit.date, "11:45")):
        checked_in = therapist_client.post(
            f"/api/v1/visits/{visit.pk}/check-in", {"at": start.isoformat()}, format="json"
        )
        checked_out = therapist_client.post(
            f"/api/v1/visits/{visit.pk}/check-out", {"at": end.isoformat()}, format="json"
        )

    assert (checked_in.status_code, checked_out.status_code) == (200, 200), (checked_in.data, checked_out.data)
    seen = coordinator_client.get(f"/api/v1/visits/{visit.pk}").data
    assert (seen["status"], seen["ended_early"]) == (VisitStatus.COMPLETED, False)
    assert _instants(seen, "actual_start", "actual_end") == (start, end)


def test_a_past_check_in_before_the_window_opened_is_still_refused(therapist, therapist_client):
    visit = _book(therapist, "09:00")

    with f.clock_at(f.local(visit.date, "12:00")):
        response = therapist_client.post(
            f"/api/v1/visits/{visit.pk}/check-in", {"at": f.local(visit.date, "06:30").isoformat()}, format="json"
        )

    assert response.status_code == 409 and "check-in opens 2 h before, at 07:00" in response.data["detail"]
    visit.refresh_from_db()
    assert (visit.status, visit.actual_start) == (VisitStatus.SCHEDULED, None)


def test_a_check_in_dated_back_into_a_window_that_has_closed_is_refused(therapist, therapist_client):
    visit = _book(therapist, "09:00")
    next_morning = dt.datetime.combine(visit.date + dt.timedelta(days=1), dt.time(8), tzinfo=visit.organization.tz)

    with f.clock_at(next_morning):
        response = therapist_client.post(
            f"/api/v1/visits/{visit.pk}/check-in", {"at": f.local(visit.date, "09:00").isoformat()}, format="json"
        )

    assert response.status_code == 409 and "check-in closed" in response.data["detail"], response.data
    visit.refresh_from_db()
    assert (visit.status, visit.actual_start) == (VisitStatus.SCHEDULED, None)


def test_a_late_report_dated_ahead_of_the_server_clock_is_refused_on_at(therapist, therapist_client):
    visit = _book(therapist, "09:00")
    now, at = f.local(visit.date, "08:00"), f.local(visit.date, "10:00")

    with f.clock_at(now):
        response = therapist_client.post(
            f"/api/v1/visits/{visit.pk}/late", {"minutes": 20, "at": at.isoformat()}, format="json"
        )

    assert response.status_code == 400
    assert response.data == {"at": _skew_refusal(at, now, "2 h")}
    visit.refresh_from_db()
    assert (visit.delay_min, visit.delay_reported_at) == (0, None)
    assert not PlanRun.objects.filter(parameters__trigger=f"late:{visit.pk}").exists()


def test_a_late_report_sent_later_counts_the_delay_from_when_the_therapist_knew(therapist, therapist_client):
    visit = _book(therapist, "09:00")
    knew, sent = f.local(visit.date, "08:45"), f.local(visit.date, "08:52")

    with f.clock_at(sent):
        response = therapist_client.post(
            f"/api/v1/visits/{visit.pk}/late", {"minutes": 20, "at": knew.isoformat()}, format="json"
        )

    assert response.status_code == 200, response.data
    visit.refresh_from_db()
    assert (visit.delay_min, visit.delay_reported_at) == (20, knew)
    # Re-planned from the server's now (nothing is moved into the past) ...
    assert dt.datetime.fromisoformat(response.data["replan"]["parameters"]["now"]) == sent
    # ... and the delay counts from when the therapist knew: free from 08:45 + 20, not from 08:52 + 20.
    (moved,) = response.data["replan"]["diff"]["moved"]
    assert moved["because"].endswith("(free from 09:05)")


def test_a_late_report_dated_hours_back_is_re_planned_from_now(therapist, therapist_client):
    first, second = _book(therapist, "09:00"), _book(therapist, "11:00")
    with f.clock_at(f.local(first.date, "09:00")):
        assert therapist_client.post(f"/api/v1/visits/{first.pk}/check-in", {}, format="json").status_code == 200
    with f.clock_at(f.local(first.date, "10:40")):
        assert therapist_client.post(f"/api/v1/visits/{first.pk}/check-out", {}, format="json").status_code == 200
        # Sent at 10:40, dated 08:30: five minutes late from 08:30 is long over.
        response = therapist_client.post(
            f"/api/v1/visits/{second.pk}/late",
            {"minutes": 5, "at": f.local(first.date, "08:30").isoformat()}, format="json",
        )
    assert response.status_code == 200, response.data
    replan = response.data["replan"]
    assert dt.datetime.fromisoformat(replan["parameters"]["now"]) == f.local(first.date, "10:40")
    assert replan["diff"]["counts"]["moved"] == 0
    second.refresh_from_db()
    assert second.planned_start == f.local(first.date, "11:00")


def _transition(client, visit, status: str, **body):
    return client.post(f"/api/v1/visits/{visit.pk}/transition", {"status": status, **body}, format="json")


def test_transition_to_in_progress_and_completed_checks_in_and_out_at_the_server_time(
    therapist, therapist_client, coordinator_client
):
    visit = _book(therapist, "09:00")
    start, end = f.local(visit.date, "08:57"), f.local(visit.date, "09:29")

    with f.clock_at(start) as clock:
        # An `at` is no field of /transition: it cannot date the check-in.
        refused = _transition(therapist_client, visit, "in_progress", at=f.local(visit.date, "07:00").isoformat())
        assert refused.status_code == 400 and set(refused.data) == {"at"}
        started = _transition(therapist_client, visit, "in_progress")
        clock.move_to(end)
        done = _transition(therapist_client, visit, "completed")

    assert (started.status_code, done.status_code) == (200, 200), (started.data, done.data)
    seen = coordinator_client.get(f"/api/v1/visits/{visit.pk}").data
    assert _instants(seen, "actual_start", "actual_end") == (start, end)
    # The held time follows the real start and end, as a check-in and check-out make it.
    assert _instants(seen, "planned_start", "planned_end") == (start, end)


def test_transition_to_in_progress_while_in_another_visit_is_refused(therapist, therapist_client):
    first, second = _book(therapist, "09:00"), _book(therapist, "10:00")
    _check_in(therapist_client, first, f.local(first.date, "09:00"))

    with f.clock_at(f.local(second.date, "09:50")):
        response = _transition(therapist_client, second, "in_progress")

    assert response.status_code == 409 and f"is still in visit {first.pk}" in response.data["detail"]
    second.refresh_from_db()
    assert (second.status, second.actual_start) == (VisitStatus.SCHEDULED, None)


def test_transition_of_a_visit_under_way_to_in_progress_again_records_nothing(therapist, therapist_client):
    visit = _book(therapist, "09:00")
    _check_in(therapist_client, visit, f.local(visit.date, "09:00"))
    recorded = visit.history.count()

    with f.clock_at(f.local(visit.date, "09:05")):
        response = _transition(therapist_client, visit, "in_progress")

    assert response.status_code == 409
    assert response.data["detail"] == (
        f"Visit {visit.pk} is already under way (checked in at 09:00 on {visit.date}); nothing was recorded."
    )
    assert visit.history.count() == recorded


def test_a_coordinator_cannot_start_a_visit_early_through_transition(therapist, coordinator_client):
    visit = _book(therapist, "09:00")

    with f.clock_at(f.local(visit.date, "06:00")):
        response = _transition(coordinator_client, visit, "in_progress")

    assert response.status_code == 409 and "check-in opens 2 h before" in response.data["detail"]


def test_transition_of_another_therapists_visit_is_not_found(therapist, organization):
    visit = _book(therapist, "09:00")
    other = signed_in(f.TherapistFactory(organization=organization).user)

    with f.clock_at(f.local(visit.date, "09:00")):
        response = _transition(other, visit, "in_progress")

    assert response.status_code == 404
    visit.refresh_from_db()
    assert visit.status == VisitStatus.SCHEDULED


def test_facility_staff_may_not_start_or_complete_their_facilitys_visit(therapist, facility, facility_staff_client):
    resident = f.PatientFactory(organization=therapist.organization, facility=facility)
    requested = f.VisitFactory(organization=therapist.organization, patient=resident)
    visit = visit_book(visit=requested, therapist=therapist, planned_start=f.local(requested.date, "09:00"))
    assert facility_staff_client.get(f"/api/v1/visits/{visit.pk}").status_code == 200  # theirs to see

    with f.clock_at(f.local(visit.date, "09:00")):
        started = _transition(facility_staff_client, visit, "in_progress")
        done = _transition(facility_staff_client, visit, "completed")

    assert (started.status_code, done.status_code) == (403, 403)
    assert started.data["detail"] == "As facility staff you may not mark a visit in_progress."
    visit.refresh_from_db()
    assert (visit.status, visit.actual_start) == (VisitStatus.SCHEDULED, None)
