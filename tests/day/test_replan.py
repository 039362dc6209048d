from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.utils import timezone

from dispatch.models import AvailabilityException, PlanKind, PlanRun, PlanStatus, Priority, Visit, VisitStatus
from dispatch.services.booking import visit_book
from dispatch.services.replan import replan_propose, therapist_now_list
from dispatch.services.replan_diff import replan_affected
from dispatch.services.visit_actions import visit_check_in, visit_check_out, visit_report_late
from tests import factories as f

ROW_KEYS = {"visit", "old_therapist", "new_therapist", "old_start", "new_start", "old_end", "new_end", "rule", "text"}


@pytest.fixture
def today():
    """Today, at 22:00 with the clock running: the day's check-ins at 09:00 are in the past whatever the hour the
    suite runs at (a check-in ahead of the server's clock is refused)."""
    day = timezone.localdate(timezone=f.TORONTO)
    with time_machine.travel(f.local(day, "22:00"), tick=True):
        yield day


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


def _home_visit(organization, day, lon: float, windows=(("08:00", "16:00"),), **fields):
    return f.VisitFactory(
        organization=organization, date=day, windows=list(windows), patient__lat=43.65, patient__lon=lon, **fields
    )


@pytest.fixture
def colleague(organization):
    """A second therapist living on the same street, a few hundred metres east."""
    return f.TherapistFactory(organization=organization, home_lat=43.65, home_lon=-79.385, display_name="Farah Haddad")


@pytest.fixture
def street(therapist, colleague, today):
    """Two therapists' days on one street: the therapist's 09:00 visit done; 10:30, 11:30, 13:00 to come;
    the colleague's 10:45, 12:00 and 14:00. Every visit 30 min, home, a minute or two apart."""
    therapist.home_lat, therapist.home_lon, therapist.display_name = 43.65, -79.40, "Amara Okafor"
    therapist.save()
    org = therapist.organization
    def booked(who, lon: float, hhmm: str) -> Visit:
        return visit_book(visit=_home_visit(org, today, lon), therapist=who, planned_start=f.local(today, hhmm))

    mine = [booked(therapist, -79.40 + 0.002 * i, t) for i, t in enumerate(("09:00", "10:30", "11:30", "13:00"))]
    theirs = [booked(colleague, -79.385 + 0.002 * i, t) for i, t in enumerate(("10:45", "12:00", "14:00"))]
    visit_check_in(visit=mine[0], by=therapist.user, at=f.local(today, "09:00"))
    visit_check_out(visit=mine[0], by=therapist.user, at=f.local(today, "09:30"))
    return mine, theirs


def rows(run, kind: str) -> dict[int, dict]:
    return {row["visit"]: row for row in run.result["diff"][kind]}


# Where and when a therapist is free


def test_a_therapist_starts_from_the_visit_under_way_once_it_and_its_buffer_are_over(therapist, morning, today):
    states = therapist_now_list(organization=therapist.organization, day=today, now=f.local(today, "10:00"))

    state = states[therapist.pk]
    assert (state.lat, state.lon) == (morning[1].lat, morning[1].lon)
    assert state.free_from_min == 10 * 60 + 27  # planned busy until 10:25, started 2 min late
    assert state.last_visit_id == morning[1].pk


def test_running_late_frees_the_therapist_from_the_report_plus_the_delay(therapist, morning, today):
    visit_report_late(visit=morning[2], minutes=40, by=therapist.user, at=f.local(today, "10:00"))

    states = therapist_now_list(organization=therapist.organization, day=today, now=f.local(today, "10:00"))

    assert states[therapist.pk].free_from_min == 10 * 60 + 40


def test_a_delay_is_not_added_on_top_of_the_session_under_way(therapist, morning, today):
    """Late 25 min at 10:00 while the session runs to 10:27: free at 10:27, not at 10:52."""
    visit_report_late(visit=morning[2], minutes=25, by=therapist.user, at=f.local(today, "10:00"))

    states = therapist_now_list(organization=therapist.organization, day=today, now=f.local(today, "10:00"))

    assert states[therapist.pk].free_from_min == 10 * 60 + 27


def test_a_delay_reported_long_ago_no_longer_holds_the_therapist(therapist, morning, today):
    visit_report_late(visit=morning[2], minutes=30, by=therapist.user, at=f.local(today, "08:00"))

    states = therapist_now_list(organization=therapist.organization, day=today, now=f.local(today, "10:00"))

    assert states[therapist.pk].free_from_min == 10 * 60 + 27


def test_a_therapist_whose_last_visit_is_done_is_free_after_its_buffer(therapist, today):
    visit = f.VisitFactory(organization=therapist.organization, date=today, windows=[("08:00", "16:00")])
    visit = visit_book(visit=visit, therapist=therapist, planned_start=f.local(today, "09:00"))
    visit_check_in(visit=visit, by=therapist.user, at=f.local(today, "09:00"))
    visit_check_out(visit=visit, by=therapist.user, at=f.local(today, "09:50"))

    states = therapist_now_list(organization=therapist.organization, day=today, now=f.local(today, "09:30"))

    assert states[therapist.pk].free_from_min == 9 * 60 + 55


# The delay where it belongs, local first


def test_a_late_report_moves_only_the_late_therapists_visits(therapist, therapist_client, street, today):
    mine, theirs = street

    with f.clock_at(f.local(today, "10:20")):  # reported as it happens: the re-plan runs from then
        response = therapist_client.post(
            f"/api/v1/visits/{mine[1].pk}/late", {"minutes": 40}, format="json"
        )

    assert response.status_code == 200, response.data
    run = PlanRun.objects.get(pk=response.data["replan"]["id"])
    assert run.status == PlanStatus.SUCCEEDED, run.error
    diff = run.result["diff"]
    assert diff["scope"] == "local"
    assert diff["counts"]["others_disturbed"] == 0 and diff["counts"]["dropped"] == 0
    moved = rows(run, "moved")
    assert set(moved) <= {v.pk for v in mine}
    # Free from 10:20 + 40 min: the visit they are heading to cannot start earlier.
    assert dt.datetime.fromisoformat(moved[mine[1].pk]["new_start"]) >= f.local(today, "11:00")
    assert "Amara is running 40 min late" in moved[mine[1].pk]["text"]


def test_a_visit_the_late_route_cannot_keep_goes_to_a_colleague_with_the_rule_that_forced_it(
    therapist, colleague, therapist_client, street, today
):
    mine, theirs = street
    tight = visit_book(
        visit=_home_visit(therapist.organization, today, -79.392, windows=(("12:15", "13:00"),)),
        therapist=therapist, planned_start=f.local(today, "12:20"),
    )

    with f.clock_at(f.local(today, "10:00")):  # reported as it happens: the re-plan runs from then
        response = therapist_client.post(
            f"/api/v1/visits/{mine[1].pk}/late", {"minutes": 150}, format="json"
        )

    run = PlanRun.objects.get(pk=response.data["replan"]["id"])
    reassigned = rows(run, "reassigned")
    assert reassigned[tight.pk]["to_therapist"] == colleague.pk
    assert reassigned[tight.pk]["rule"] == "window"
    assert reassigned[tight.pk]["text"].startswith("Farah takes ")
    assert "window closes at 12:30" in reassigned[tight.pk]["text"]
    assert run.result["diff"]["scope"] in ("nearby", "further")
    assert run.result["diff"]["counts"]["others_disturbed"] <= 3


def test_a_booked_visit_nobody_can_keep_is_listed_as_dropped_with_its_reason(therapist, coordinator, today):
    visit = f.VisitFactory(organization=therapist.organization, date=today, windows=[("09:00", "10:00")])
    visit_book(visit=visit, therapist=therapist, planned_start=f.local(today, "09:30"))
    visit_report_late(visit=visit, minutes=120, by=therapist.user, at=f.local(today, "09:00"))

    run = replan_propose(
        organization=therapist.organization, now=f.local(today, "09:00"), by=coordinator, concerned=[therapist.pk]
    )

    dropped = run.result["diff"]["dropped"]
    assert [row["visit"] for row in dropped] == [visit.pk]
    assert dropped[0]["reason"] and dropped[0]["text"]
    assert run.result["diff"]["counts"]["booked_unbooked"] == 1


def test_a_pinned_visit_whose_time_cannot_be_kept_is_a_conflict_never_a_silent_drop(
    therapist, coordinator_client, street, today
):
    mine, _ = street
    coordinator_client.post(f"/api/v1/visits/{mine[1].pk}/pin", {}, format="json")
    visit_report_late(visit=mine[1], minutes=30, by=therapist.user, at=f.local(today, "10:20"))

    created = coordinator_client.post(
        "/api/v1/replan", {"now": f.local(today, "10:20").isoformat(), "therapists": [therapist.pk]}, format="json"
    )

    assert created.status_code == 201, created.data
    conflicts = {row["visit"]: row for row in created.data["diff"]["conflicts"]}
    assert set(conflicts) == {mine[1].pk}
    assert conflicts[mine[1].pk]["new_therapist"] == therapist.pk
    assert "cannot stay pinned" in conflicts[mine[1].pk]["text"] and "Your decision" in conflicts[mine[1].pk]["text"]
    assert mine[1].pk not in {row["visit"] for row in created.data["diff"]["dropped"]}


def test_a_replan_with_nothing_changed_changes_nothing(coordinator_client, street, today):
    created = coordinator_client.post("/api/v1/replan", {"now": f.local(today, "09:45").isoformat()}, format="json")

    diff = created.data["diff"]
    assert [diff[k] for k in ("moved", "reassigned", "dropped", "conflicts", "added")] == [[], [], [], [], []]


# The other re-plans: cancellation, urgent request, interruption, a therapist going home


def test_a_cancellation_replans_only_that_therapists_day(therapist, coordinator_client, street, today):
    mine, theirs = street
    coordinator_client.post(f"/api/v1/visits/{mine[2].pk}/cancel", {"reason": "Family asked"}, format="json")

    created = coordinator_client.post(
        "/api/v1/replan", {"now": f.local(today, "10:00").isoformat(), "therapists": [therapist.pk]}, format="json"
    )

    diff = created.data["diff"]
    assert (diff["counts"]["others_disturbed"], diff["counts"]["dropped"]) == (0, 0)
    # The re-plan concerns the therapist alone, says so, and touches none of the colleague's visits.
    assert created.data["parameters"]["concerned"] == [therapist.pk]
    assert (diff["scope"], diff["summary"][0]) == ("local", "Only Amara's day changes.")
    changed = {row["visit"] for kind in ("moved", "reassigned", "dropped", "conflicts") for row in diff[kind]}
    assert not changed & {v.pk for v in theirs}
    assert all(Visit.objects.get(pk=v.pk).planned_start == v.planned_start for v in theirs)


def test_an_urgent_request_is_placed_without_unbooking_anyone(
    therapist, colleague, coordinator_client, street, today
):
    mine, theirs = street
    visit_check_in(visit=mine[1], by=therapist.user, at=f.local(today, "10:30"))
    visit_check_in(visit=theirs[0], by=colleague.user, at=f.local(today, "10:45"))
    urgent = _home_visit(therapist.organization, today, -79.39, windows=(("11:00", "14:00"),), priority=Priority.URGENT)

    created = coordinator_client.post(
        "/api/v1/replan", {"now": f.local(today, "11:00").isoformat(), "place": [urgent.pk]}, format="json"
    )

    diff = created.data["diff"]
    assert [row["visit"] for row in diff["added"]] == [urgent.pk]
    assert diff["counts"]["booked_unbooked"] == 0
    assert created.data["parameters"]["placing"] == [urgent.pk]


def test_placing_a_visit_that_is_not_a_request_of_the_day_is_a_400(therapist, coordinator_client, street, today):
    mine, _ = street
    tomorrow = _home_visit(therapist.organization, today + dt.timedelta(days=1), -79.39, windows=(("11:00", "14:00"),))
    response = coordinator_client.post(
        "/api/v1/replan", {"now": f.local(today, "11:00").isoformat(), "place": [mine[0].pk, tomorrow.pk]},
        format="json",
    )
    assert response.status_code == 400, response.data
    status = Visit.objects.get(pk=mine[0].pk).get_status_display().lower()
    assert [m.split(":")[0] for m in response.data["place"]] == [
        f"Visit {mine[0].pk} is {status} on {today}", f"Visit {tomorrow.pk} is requested on {tomorrow.date}"]
    assert not PlanRun.objects.filter(kind=PlanKind.REPLAN).exists()


def test_a_visit_to_place_is_not_lost_by_joining_a_running_replan_that_does_not_place_it(
    therapist, coordinator_client, street, today
):
    running = PlanRun.objects.create(organization=therapist.organization, date=today, kind=PlanKind.REPLAN,
                                     status=PlanStatus.RUNNING, parameters={"trigger": "late:1", "placing": []})
    urgent = _home_visit(therapist.organization, today, -79.39, windows=(("11:00", "14:00"),), priority=Priority.URGENT)
    with f.clock_at(f.local(today, "11:00")):
        response = coordinator_client.post("/api/v1/replan", {"place": [urgent.pk]}, format="json")
        joined = coordinator_client.post("/api/v1/replan", {}, format="json")  # nothing to place: it joins
    assert response.status_code == 409, response.data
    assert f"does not place visit {urgent.pk}" in response.data["detail"]
    assert response.data["extra"] == {"plan": running.pk, "place": [urgent.pk]}
    assert joined.status_code == 201 and joined.data["id"] == running.pk


def test_a_replan_after_a_session_ran_over_leaves_the_whole_journey_to_the_next_visit(
    therapist, therapist_client, coordinator_client, street, today
):
    # Found by the simulation (seed 2, 28 days, step 118): a check-in at 09:59:xx and an interruption left the
    # therapist busy until 11:53:25; the re-plan counted them free at 11:53 and booked the next visit at the
    # minute travel allowed from there, 25 seconds short of the journey.
    from dispatch.services.day_travel import visit_leg

    mine, _ = street
    at = (f.local(today, "10:30") + dt.timedelta(seconds=40)).isoformat()
    assert therapist_client.post(f"/api/v1/visits/{mine[1].pk}/check-in", {"at": at}, format="json").status_code == 200
    interrupted = therapist_client.post(
        f"/api/v1/visits/{mine[1].pk}/interruption", {"minutes": 50, "kind": "extended"}, format="json"
    )
    assert interrupted.status_code == 200, interrupted.data
    now = f.local(today, "10:45") + dt.timedelta(seconds=20)
    proposal = coordinator_client.post(
        "/api/v1/replan", {"now": now.isoformat(), "therapists": [therapist.pk]}, format="json"
    )
    assert proposal.status_code == 201, proposal.data

    applied = coordinator_client.post(f"/api/v1/plans/{proposal.data['id']}/apply", {}, format="json")

    assert applied.status_code == 200, applied.data
    under_way, following = Visit.objects.get(pk=mine[1].pk), Visit.objects.get(pk=mine[2].pk)
    travel = visit_leg(before=under_way, after=following, speed_kmh=therapist.speed_kmh).total_min
    assert under_way.planned_busy_until.second == 40 and travel > 0
    assert following.planned_start - under_way.planned_busy_until >= dt.timedelta(minutes=travel)


def test_a_replan_keeps_the_visit_a_therapist_is_on_the_way_to(therapist, coordinator_client, street, today):
    # A known finding: five minutes after an appointment (its window exactly the session) was due, before the
    # therapist checked in, a re-plan called its window passed and unbooked it.
    from dispatch.services.day_travel import visit_leg

    mine, _ = street
    org = therapist.organization
    exact = visit_book(
        visit=_home_visit(org, today, -79.399, windows=(("12:10", "12:40"),)),
        therapist=therapist,
        planned_start=f.local(today, "12:10"),
    )
    now = f.local(today, "12:15")
    proposal = coordinator_client.post(
        "/api/v1/replan", {"now": now.isoformat(), "therapists": [therapist.pk]}, format="json"
    )
    assert proposal.status_code == 201, proposal.data
    diff = proposal.data["diff"]
    assert exact.pk not in {row["visit"] for kind in ("moved", "reassigned", "dropped") for row in diff[kind]}

    applied = coordinator_client.post(f"/api/v1/plans/{proposal.data['id']}/apply", {"drop_booked": True}, format="json")

    assert applied.status_code == 200, applied.data
    exact.refresh_from_db()
    assert (exact.status, exact.therapist_id, exact.planned_start) == (
        VisitStatus.SCHEDULED, therapist.pk, f.local(today, "12:10")
    )
    # The next visit leaves the session its full length from now, and the journey on from there.
    following = Visit.objects.get(pk=mine[3].pk)
    travel = visit_leg(before=exact, after=following, speed_kmh=therapist.speed_kmh).total_min
    free = now + dt.timedelta(minutes=exact.duration_min + exact.effective_buffer_min)
    assert following.status == VisitStatus.SCHEDULED
    assert following.planned_start >= free + dt.timedelta(minutes=travel)


def test_a_therapist_free_inside_the_gap_of_a_split_shift_gets_no_visit_in_it(
    therapist, therapist_client, coordinator_client, today
):
    # Found by the simulation (seeds 1 and 3 over 28 days): a session running past the end of the morning
    # period made the re-plan start the therapist inside the gap, drop the gap as a passed break, and book
    # visits in it (12:15-12:35 in a 11:30-14:00 gap).
    from dispatch.models import WeeklyAvailability

    WeeklyAvailability.objects.filter(therapist=therapist).delete()
    for start, end in ((dt.time(7, 30), dt.time(11, 30)), (dt.time(14), dt.time(18))):
        WeeklyAvailability.objects.create(
            therapist=therapist, weekday=today.weekday(), start_time=start, end_time=end
        )
    org = therapist.organization
    morning = visit_book(
        visit=_home_visit(org, today, -79.40, windows=(("10:30", "11:30"),)),
        therapist=therapist,
        planned_start=f.local(today, "10:55"),
    )
    at = f.local(today, "11:00").isoformat()
    assert therapist_client.post(f"/api/v1/visits/{morning.pk}/check-in", {"at": at}, format="json").status_code == 200
    urgent = _home_visit(org, today, -79.401, windows=(("11:45", "13:45"),), priority=Priority.URGENT)

    proposal = coordinator_client.post(
        "/api/v1/replan",
        {"now": f.local(today, "11:10").isoformat(), "therapists": [therapist.pk], "place": [urgent.pk]},
        format="json",
    )
    assert proposal.status_code == 201, proposal.data
    applied = coordinator_client.post(f"/api/v1/plans/{proposal.data['id']}/apply", {"drop_booked": True}, format="json")

    assert applied.status_code == 200, applied.data
    urgent.refresh_from_db()
    assert urgent.status == VisitStatus.REQUESTED and urgent.therapist_id is None
    gap = (f.local(today, "11:30"), f.local(today, "14:00"))
    booked = Visit.objects.filter(therapist=therapist, date=today, status=VisitStatus.SCHEDULED)
    assert not [v.pk for v in booked if v.planned_start < gap[1] and v.planned_busy_until > gap[0]]


def test_replan_refuses_unknown_ids_field_by_field(coordinator_client, street):
    response = coordinator_client.post("/api/v1/replan", {"therapists": [999999], "place": [888888]}, format="json")

    assert response.status_code == 400
    assert set(response.data) == {"therapists", "place"}


def test_a_replan_of_a_past_day_is_a_400_on_date_and_starts_nothing(coordinator_client, street, today):
    yesterday = today - dt.timedelta(days=1)
    before = PlanRun.objects.count()

    response = coordinator_client.post("/api/v1/replan", {"date": str(yesterday)}, format="json")

    assert response.status_code == 400
    assert response.json() == {"date": [
        f"{yesterday} has passed in America/Toronto; a re-plan changes what is still to come, today or a later day."
    ]}
    assert PlanRun.objects.count() == before


def test_an_interruption_pushes_the_day_at_once_and_proposes_a_replan(therapist, therapist_client, street, today):
    mine, _ = street
    visit_check_in(visit=mine[1], by=therapist.user, at=f.local(today, "10:30"))

    response = therapist_client.post(
        f"/api/v1/visits/{mine[1].pk}/interruption", {"minutes": 45, "kind": "extended"}, format="json"
    )

    assert response.status_code == 200, response.data
    assert response.data["replan"]["kind"] == PlanKind.REPLAN
    assert response.data["replan"]["parameters"]["concerned"] == [therapist.pk]


def test_a_therapist_going_home_sick_hands_their_afternoon_to_colleagues(
    therapist, colleague, coordinator_client, street, today
):
    mine, _ = street
    visit_check_in(visit=mine[1], by=therapist.user, at=f.local(today, "10:30"))
    visit_check_out(visit=mine[1], by=therapist.user, at=f.local(today, "11:00"))

    response = coordinator_client.post(
        f"/api/v1/therapists/{therapist.pk}/off",
        {"start": f.local(today, "11:15").isoformat(), "note": "Sick"},
        format="json",
    )

    assert response.status_code == 200, response.data
    off = AvailabilityException.objects.get(pk=response.data["exception"])
    assert (off.date, off.start_time, off.kind) == (today, dt.time(11, 15), "time_off")
    diff = response.data["replan"]["diff"]
    moved_on = {row["visit"]: row for row in diff["reassigned"]}
    assert set(moved_on) == {mine[2].pk, mine[3].pk}
    assert {row["to_therapist"] for row in moved_on.values()} == {colleague.pk}
    assert {row["rule"] for row in moved_on.values()} == {"shift"}
    assert diff["counts"]["booked_unbooked"] == 0


def test_marking_off_refuses_an_end_before_the_start_and_other_organisations(coordinator_client, therapist, today):
    bad = coordinator_client.post(
        f"/api/v1/therapists/{therapist.pk}/off",
        {"start": f.local(today, "14:00").isoformat(), "end": "13:00"},
        format="json",
    )
    stranger = f.TherapistFactory()
    other = coordinator_client.post(f"/api/v1/therapists/{stranger.pk}/off", {}, format="json")

    assert bad.status_code == 400 and "end" in bad.data
    assert other.status_code == 404
    assert not AvailabilityException.objects.filter(therapist=therapist, date=today).exists()


def test_therapists_may_not_mark_anyone_off(therapist, therapist_client):
    assert therapist_client.post(f"/api/v1/therapists/{therapist.pk}/off", {}, format="json").status_code == 403


# The proposal: read, previewed, applied once


def test_coordinator_asks_for_a_replan_and_reads_its_diff(therapist, coordinator_client, morning, today):
    # Free from 11:00: the 10:40 and 11:30 visits must move (all on one street, so travel moves nothing).
    Visit.objects.filter(pk=morning[2].pk).update(delay_min=60, delay_reported_at=f.local(today, "10:00"))
    created = coordinator_client.post("/api/v1/replan", {"now": f.local(today, "10:00").isoformat()}, format="json")
    diff = coordinator_client.get(f"/api/v1/plans/{created.data['id']}/diff")

    assert created.status_code == 201, created.data
    assert {"moved", "reassigned", "dropped", "added", "conflicts", "counts", "summary", "affected"} <= set(
        created.data["diff"]
    )
    assert diff.status_code == 200
    assert diff.data["diff"] == created.data["diff"]
    rows_ = [row for kind in ("moved", "reassigned", "dropped", "added") for row in created.data["diff"][kind]]
    assert rows_ and all(ROW_KEYS <= set(row) for row in rows_)
    assert created.data["diff"]["summary"][0]


def test_therapists_may_not_ask_for_a_replan(therapist_client):
    assert therapist_client.post("/api/v1/replan", {}, format="json").status_code == 403


def test_a_late_report_triggers_a_replan_proposal(therapist, therapist_client, morning):
    response = therapist_client.post(f"/api/v1/visits/{morning[2].pk}/late", {"minutes": 25}, format="json")

    assert response.status_code == 200, response.data
    assert response.data["replan"]["kind"] == PlanKind.REPLAN
    assert response.data["replan"]["parameters"]["trigger"] == f"late:{morning[2].pk}"
    assert Visit.objects.get(pk=morning[2].pk).status == VisitStatus.SCHEDULED


def test_replan_inserts_an_urgent_same_day_request(therapist, coordinator, morning, today):
    urgent = f.VisitFactory(
        organization=therapist.organization, date=today, priority=Priority.URGENT, windows=[("10:00", "14:00")]
    )

    run = replan_propose(organization=therapist.organization, now=f.local(today, "10:00"), by=coordinator)

    assert [row["visit"] for row in run.result["diff"]["added"]] == [urgent.pk]


def test_applying_a_replan_moves_the_visits_and_lists_who_to_tell(therapist, coordinator_client, street, today):
    mine, _ = street
    visit_report_late(visit=mine[1], minutes=40, by=therapist.user, at=f.local(today, "10:20"))
    proposal = coordinator_client.post(
        "/api/v1/replan", {"now": f.local(today, "10:20").isoformat(), "therapists": [therapist.pk]}, format="json"
    )

    applied = coordinator_client.post(f"/api/v1/plans/{proposal.data['id']}/apply", {}, format="json")

    assert applied.status_code == 200, applied.data
    assert applied.data["applied_at"]
    moved = {row["visit"]: row["new_start"] for row in proposal.data["diff"]["moved"]}
    assert moved
    for visit_id, new_start in moved.items():
        visit = Visit.objects.get(pk=visit_id)
        assert visit.planned_start == dt.datetime.fromisoformat(new_start)
        assert visit.history.first().history_change_reason == f"re-plan {proposal.data['id']}"
    assert Visit.objects.get(pk=mine[0].pk).status == VisitStatus.COMPLETED
    assert Visit.objects.get(pk=mine[1].pk).delay_min == 0  # absorbed: a next re-plan must not add it again
    assert applied.data["affected"]["therapists"] == [{"id": therapist.pk, "name": "Amara Okafor"}]
    assert [t.pk for t in replan_affected(run=PlanRun.objects.get(pk=proposal.data["id"])).therapists] == [therapist.pk]


def test_applying_a_replan_after_a_visit_changed_is_a_conflict(therapist, coordinator_client, morning, today):
    proposal = coordinator_client.post("/api/v1/replan", {"now": f.local(today, "10:00").isoformat()}, format="json")
    coordinator_client.post(f"/api/v1/visits/{morning[3].pk}/cancel", {"reason": "Family asked"}, format="json")

    applied = coordinator_client.post(f"/api/v1/plans/{proposal.data['id']}/apply", {}, format="json")
    again = coordinator_client.post(f"/api/v1/plans/{proposal.data['id']}/apply", {}, format="json")

    assert applied.status_code == 409
    assert f"Visits {morning[3].pk} changed since plan" in applied.data["detail"]
    assert again.status_code == 409


def test_applying_a_replan_after_a_therapists_hours_changed_is_a_conflict(
    therapist, coordinator_client, street, today
):
    proposal = coordinator_client.post("/api/v1/replan", {"now": f.local(today, "10:00").isoformat()}, format="json")
    AvailabilityException.objects.create(
        therapist=therapist, date=today, kind="time_off", start_time=dt.time(15), end_time=dt.time(16)
    )

    applied = coordinator_client.post(f"/api/v1/plans/{proposal.data['id']}/apply", {}, format="json")

    assert applied.status_code == 409
    assert "hours" in applied.data["detail"]
    assert PlanRun.objects.get(pk=proposal.data["id"]).applied_at is None


def test_a_replan_is_applied_only_once(coordinator_client, morning, today):
    proposal = coordinator_client.post("/api/v1/replan", {"now": f.local(today, "10:00").isoformat()}, format="json")

    first = coordinator_client.post(f"/api/v1/plans/{proposal.data['id']}/apply", {}, format="json")
    second = coordinator_client.post(f"/api/v1/plans/{proposal.data['id']}/apply", {}, format="json")

    assert first.status_code == 200
    assert second.status_code == 409
    assert "not applied yet" in second.data["detail"]


def test_a_check_out_part_way_through_a_minute_frees_the_therapist_at_the_next_whole_minute(
    therapist, today, therapist_client
):
    """Found by the simulation (seeds 5 and 6): a check-out at 09:50:40 freed the therapist at 09:55 in the
    optimiser's whole minutes, and the re-plan booked the next visit 40 seconds short of its travel."""
    visit = f.VisitFactory(organization=therapist.organization, date=today, windows=[("08:00", "16:00")])
    visit = visit_book(visit=visit, therapist=therapist, planned_start=f.local(today, "09:00"))
    for action, hhmm in (("check-in", "09:00"), ("check-out", "09:50")):
        at = f.local(today, hhmm) + dt.timedelta(seconds=40)
        answer = therapist_client.post(f"/api/v1/visits/{visit.pk}/{action}", {"at": at.isoformat()}, format="json")
        assert answer.status_code == 200, answer.data

    states = therapist_now_list(organization=therapist.organization, day=today, now=f.local(today, "09:30"))

    assert states[therapist.pk].free_from_min == 9 * 60 + 56  # 09:50:40 and the 5-minute buffer, rounded up


# Cancellation and no-show propose a re-plan as a late report does


def test_cancelling_a_visit_booked_today_proposes_a_replan_of_that_therapists_day(
    therapist, coordinator_client, street, today
):
    mine, theirs = street
    with time_machine.travel(f.local(today, "10:00"), tick=False):
        response = coordinator_client.post(
            f"/api/v1/visits/{mine[2].pk}/cancel", {"reason": "Family asked"}, format="json"
        )
        proposal = response.data["replan"]
        applied = coordinator_client.post(f"/api/v1/plans/{proposal['id']}/apply", {}, format="json")

    assert response.status_code == 200, response.data
    assert response.data["visit"]["status"] == VisitStatus.CANCELLED
    assert proposal["parameters"]["trigger"] == f"cancelled:{mine[2].pk}"
    assert proposal["parameters"]["concerned"] == [therapist.pk]
    diff = proposal["diff"]
    assert (diff["scope"], diff["counts"]["others_disturbed"], diff["counts"]["booked_unbooked"]) == ("local", 0, 0)
    assert applied.status_code == 200, applied.data
    assert all(Visit.objects.get(pk=v.pk).planned_start == v.planned_start for v in theirs)
    assert Visit.objects.get(pk=mine[3].pk).status == VisitStatus.SCHEDULED


def test_a_no_show_proposes_a_replan_from_the_patients_door_refused_once_the_day_changed(
    therapist, therapist_client, coordinator_client, street, today
):
    mine, _ = street
    with time_machine.travel(f.local(today, "10:35"), tick=False):
        response = therapist_client.post(
            f"/api/v1/visits/{mine[1].pk}/no-show", {"reason": "Nobody home"}, format="json"
        )
        proposal = response.data["replan"]
        coordinator_client.post(f"/api/v1/visits/{mine[3].pk}/cancel", {"reason": "Family asked"}, format="json")
        applied = coordinator_client.post(f"/api/v1/plans/{proposal['id']}/apply", {}, format="json")

    assert response.status_code == 200, response.data
    assert (proposal["parameters"]["trigger"], proposal["parameters"]["concerned"]) == (
        f"no_show:{mine[1].pk}", [therapist.pk]
    )
    # The therapist went to the door: the re-plan starts them there, free from the minute it was marked.
    states = PlanRun.objects.get(pk=proposal["id"]).result["therapists_now"]
    now = next(s for s in states if s["therapist_id"] == therapist.pk)
    assert (now["lat"], now["lon"], now["free_from_min"]) == (mine[1].lat, mine[1].lon, 10 * 60 + 35)
    assert applied.status_code == 409
    assert f"Visits {mine[3].pk} changed since plan" in applied.data["detail"]


def test_calling_off_a_request_or_another_days_visit_proposes_no_replan(therapist, coordinator_client, street, today):
    request = _home_visit(therapist.organization, today, -79.39)
    tomorrow = visit_book(
        visit=_home_visit(therapist.organization, today + dt.timedelta(days=1), -79.39),
        therapist=therapist, planned_start=f.local(today + dt.timedelta(days=1), "10:00"),
    )
    with time_machine.travel(f.local(today, "10:00"), tick=False):
        answers = [
            coordinator_client.post(f"/api/v1/visits/{v.pk}/cancel", {"reason": "Family asked"}, format="json")
            for v in (request, tomorrow)
        ]

    assert [a.status_code for a in answers] == [200, 200]
    assert ["replan" in a.data for a in answers] == [False, False]
    assert not PlanRun.objects.filter(kind=PlanKind.REPLAN).exists()
