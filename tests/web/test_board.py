from __future__ import annotations

import datetime as dt
import json

import pytest
from django.test import Client
from django.utils import timezone

from dispatch import models as m
from dispatch.services.booking import visit_book
from tests import factories as f
from tests.clients import signed_in


@pytest.fixture
def day_with_a_visit(organization, coordinator, therapist):
    visit = f.VisitFactory(organization=organization, windows=[("08:00", "16:00")])
    visit = visit_book(visit=visit, therapist=therapist, planned_start=f.local(visit.date, "09:00"), by=coordinator)
    open_request = f.VisitFactory(organization=organization)
    return visit, open_request


def _logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_board_asks_for_a_login_first(db):
    response = Client().get("/board/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize("url", ["/board/data", "/board/data?date=2026-03-02", "/board/live", "/board/plans/1/preview",
                                 "/app/data"])
def test_the_pages_json_reads_answer_401_to_a_script_without_a_session_not_the_login_page(db, url):
    response = Client().get(url, HTTP_ACCEPT="application/json")
    assert response.status_code == 401 and response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Your session has ended: sign in again.", "code": "not_authenticated"}


def test_facility_staff_get_a_polite_refusal_with_the_way_to_their_page(facility_staff):
    response = _logged_in(facility_staff).get("/board/")
    assert response.status_code == 403 and b"coordinators and therapists" in response.content
    assert b'href="/facility/"' in response.content
    assert _logged_in(facility_staff).get("/board/data").status_code == 403


@pytest.mark.parametrize("role, page", [("coordinator", "/board/"), ("therapist", "/app/"), ("staff", "/facility/")])
def test_the_start_page_sends_each_role_to_its_own_screen(role, page, coordinator, therapist, facility_staff):
    user = {"coordinator": coordinator, "therapist": therapist.user, "staff": facility_staff}[role]
    response = _logged_in(user).get("/")
    assert response.status_code == 302 and response["Location"] == page


def test_logging_in_lands_on_the_users_own_screen(therapist):
    therapist.user.set_password("pw-rounds-test")
    therapist.user.save()
    response = Client().post("/accounts/login/", {"username": therapist.user.username, "password": "pw-rounds-test"},
                             follow=True)
    assert response.redirect_chain[-1][0] == "/app/"


def test_a_therapist_on_the_board_is_sent_to_the_phone_app_for_the_same_day(therapist):
    response = _logged_in(therapist.user).get("/board/?date=2026-03-02")
    assert response.status_code == 302 and response["Location"] == "/app/?date=2026-03-02"


def test_the_board_data_lists_every_therapist_with_their_visits(coordinator, day_with_a_visit, organization):
    visit, open_request = day_with_a_visit
    other = f.TherapistFactory(organization=organization)
    body = _logged_in(coordinator).get(f"/board/data?date={visit.date}").json()
    rows = {t["id"]: t for t in body["therapists"]}
    assert set(rows) == {visit.therapist_id, other.pk}
    assert [v["id"] for v in rows[visit.therapist_id]["visits"]] == [visit.pk]
    assert rows[visit.therapist_id]["visits"][0]["start"].startswith(f"{visit.date}T09:00")
    assert [u["id"] for u in body["unassigned"]] == [open_request.pk]
    assert body["unassigned"][0]["reason"] == "Not planned yet."


def test_a_therapist_switched_off_keeps_a_row_while_visits_are_still_booked_on_them(
    coordinator, day_with_a_visit, organization
):
    # Found by an outside tester: switching a therapist off hid their booked visits from the board (on no row and
    # among no open requests) while the API, the facility page and the feeds still had them booked on them. Now
    # the switch-off sends the visits to come back to the requests; one of a past day nobody closed stays booked.
    visit, _ = day_with_a_visit
    m.Visit.objects.filter(pk=visit.pk).update(date=visit.date - dt.timedelta(days=3))
    visit.refresh_from_db()
    idle = f.TherapistFactory(organization=organization)
    client = _logged_in(coordinator)
    for therapist in (visit.therapist, idle):
        response = signed_in(coordinator).patch(f"/api/v1/therapists/{therapist.pk}", {"active": False}, format="json")
        assert response.status_code == 200, response.content

    body = client.get(f"/board/data?date={visit.date}").json()

    rows = {t["id"]: t for t in body["therapists"]}
    assert set(rows) == {visit.therapist_id}
    assert [v["id"] for v in rows[visit.therapist_id]["visits"]] == [visit.pk]
    assert body["kpis"]["booked"] == 1
    next_day = client.get(f"/board/data?date={visit.date + dt.timedelta(days=1)}").json()
    assert next_day["therapists"] == []  # holding nothing that day, neither has a row


def test_a_visit_unbooked_by_a_switch_off_is_among_the_open_requests_with_why(
    coordinator, day_with_a_visit, organization
):
    visit, _ = day_with_a_visit
    name = visit.therapist.display_name
    response = signed_in(coordinator).patch(f"/api/v1/therapists/{visit.therapist_id}", {"active": False}, format="json")
    assert response.status_code == 200, response.content

    body = _logged_in(coordinator).get(f"/board/data?date={visit.date}").json()

    assert body["therapists"] == [] and body["kpis"]["booked"] == 0
    shown = {u["id"]: u for u in body["unassigned"]}
    assert shown[visit.pk]["code"] == "unbooked"
    assert shown[visit.pk]["reason"] == f"Unbooked: {name} was switched off; the visit is open to plan again."
    assert shown[visit.pk]["group"] == f"Unbooked: {name} was switched off; the visit is open to plan again"


def test_the_kpis_count_booked_and_open_visits_travel_and_utilisation(coordinator, day_with_a_visit, organization):
    visit, open_request = day_with_a_visit
    m.Visit.objects.filter(pk=visit.pk).update(planned_travel_min=12)
    m.Visit.objects.filter(pk=open_request.pk).update(priority=m.Priority.URGENT)
    k = _logged_in(coordinator).get(f"/board/data?date={visit.date}").json()["kpis"]
    assert (k["booked"], k["unassigned"], k["travel_min"]) == (1, 1, 12)
    assert k["unassigned_by_priority"] == {"routine": 0, "soon": 0, "urgent": 1}
    # 30 min session + 5 min home buffer + 12 min travel of a 9-hour shift.
    assert k["utilisation_pct"] == round(100 * 47 / 540)


def test_open_requests_come_most_urgent_first_then_by_their_earliest_window(coordinator, organization):
    day = f.tomorrow()
    late_routine = f.VisitFactory(organization=organization, windows=[("14:00", "16:00")])
    early_routine = f.VisitFactory(organization=organization, windows=[("08:00", "10:00")])
    urgent = f.VisitFactory(organization=organization, windows=[("15:00", "17:00")], priority=m.Priority.URGENT)
    soon = f.VisitFactory(organization=organization, windows=[("16:00", "17:00")], priority=m.Priority.SOON)
    rows = _logged_in(coordinator).get(f"/board/data?date={day}").json()["unassigned"]
    assert [r["id"] for r in rows] == [urgent.pk, soon.pk, early_routine.pk, late_routine.pk]


def test_open_requests_left_out_for_the_same_cause_share_one_group(coordinator, organization):
    day = f.tomorrow()
    same = [f.VisitFactory(organization=organization, windows=[("09:00", "11:00")]) for _ in range(3)]
    other = f.VisitFactory(organization=organization, windows=[("13:00", "15:30")])
    for v in [*same, other]:
        v.required_skills.set([m.Skill.objects.get(code="oncology")])
    m.PlanRun.objects.create(organization=organization, date=day, status=m.PlanStatus.SUCCEEDED, result={
        "unassigned": [{"visit_id": v.pk, "code": "displaced", "reason": f"Left out: fits alone into {v.pk}'s day."}
                       for v in [*same, other]]})
    rows = _logged_in(coordinator).get(f"/board/data?date={day}").json()["unassigned"]
    groups = [r["group"] for r in rows]
    assert groups.count("no oncology therapist free 9–11") == 3
    assert "no oncology therapist free 13–15:30" in groups


def test_a_visit_whose_patient_is_in_another_session_is_grouped_by_that(coordinator, organization):
    day = f.tomorrow()
    visit = f.VisitFactory(organization=organization, windows=[("09:00", "10:00")])
    m.PlanRun.objects.create(organization=organization, date=day, status=m.PlanStatus.SUCCEEDED, result={
        "unassigned": [{"visit_id": visit.pk, "code": "patient_busy",
                        "reason": "The patient is in another session at every time its windows allow."}]})
    rows = _logged_in(coordinator).get(f"/board/data?date={day}").json()["unassigned"]
    assert [r["group"] for r in rows] == ["the patient is in another session 9–10"]


def test_a_plan_not_yet_applied_is_offered_for_preview(coordinator, day_with_a_visit, organization):
    visit, _ = day_with_a_visit
    client = _logged_in(coordinator)
    assert client.get(f"/board/data?date={visit.date}").json()["pending_plan"] is None
    run = m.PlanRun.objects.create(organization=organization, date=visit.date, status=m.PlanStatus.SUCCEEDED,
                                   result={"routes": [], "unassigned": []})
    assert client.get(f"/board/data?date={visit.date}").json()["pending_plan"]["id"] == run.pk


def test_the_board_shows_the_planners_reason_for_an_unassigned_visit(coordinator, day_with_a_visit, organization):
    visit, open_request = day_with_a_visit
    m.PlanRun.objects.create(
        organization=organization, date=visit.date, status=m.PlanStatus.SUCCEEDED,
        result={"unassigned": [
            {"visit_id": open_request.pk, "code": "no_skill", "reason": "No therapist has skill mld."}
        ]},
    )
    body = _logged_in(coordinator).get(f"/board/data?date={visit.date}").json()
    assert body["unassigned"][0]["reason"] == "No therapist has skill mld."


def test_a_request_placed_by_a_plan_not_yet_applied_says_so(coordinator, day_with_a_visit, organization):
    visit, open_request = day_with_a_visit
    run = m.PlanRun.objects.create(
        organization=organization, date=visit.date, status=m.PlanStatus.SUCCEEDED,
        result={"unassigned": [], "routes": [{"therapist_id": visit.therapist_id, "stops": [
            {"visit_id": open_request.pk}]}]},
    )
    client = _logged_in(coordinator)
    [row] = client.get(f"/board/data?date={visit.date}").json()["unassigned"]
    assert row["code"] == "planned_not_applied"
    assert row["reason"] == f"Placed by plan {run.pk}, which is not applied yet."

    # Applied (and the request still open, as after a later change): the plan no longer speaks for it.
    run.applied_at = timezone.now()
    run.save()
    [row] = client.get(f"/board/data?date={visit.date}").json()["unassigned"]
    assert (row["code"], row["reason"]) == ("not_planned", "Not planned yet.")


def test_no_health_detail_reaches_the_board(coordinator, day_with_a_visit):
    visit, _ = day_with_a_visit
    patient = visit.patient
    patient.last_name, patient.diagnosis, patient.referring_clinician = "Qzxlastname", "Qzxdiagnosis", "Dr. Qzxdoctor"
    patient.save()
    m.Precaution.objects.create(patient=patient, kind="device", note="Qzx PICC line left arm")
    for user in (coordinator, visit.therapist.user):
        raw = _logged_in(user).get(f"/board/data?date={visit.date}").content.decode()
        for secret in ("Qzxdiagnosis", "Qzx PICC", "Qzxlastname", "Qzxdoctor"):
            assert secret not in raw
        assert not _keys(json.loads(raw)) & HEALTH_KEYS


HEALTH_KEYS = {"diagnosis", "intake", "intake_notes", "notes", "precautions", "contraindications", "last_name",
               "first_name", "date_of_birth", "referring_clinician", "phone"}


def _keys(payload) -> set[str]:
    """Every key at any depth of a JSON payload."""
    if isinstance(payload, dict):
        return set(payload) | {k for v in payload.values() for k in _keys(v)}
    if isinstance(payload, list):
        return {k for v in payload for k in _keys(v)}
    return set()


def test_a_therapist_sees_only_their_own_row(therapist, day_with_a_visit, organization):
    visit, _ = day_with_a_visit
    f.TherapistFactory(organization=organization)
    body = _logged_in(therapist.user).get(f"/board/data?date={visit.date}").json()
    assert [t["id"] for t in body["therapists"]] == [therapist.pk]
    assert body["unassigned"] == [] and body["facilities"] == []


def test_a_bad_date_is_a_400(coordinator):
    assert _logged_in(coordinator).get("/board/data?date=1870-01-01").status_code == 400
    assert _logged_in(coordinator).get("/board/data?date=soon").status_code == 400


def test_the_board_page_sets_the_csrf_cookie_its_script_sends(coordinator):
    response = _logged_in(coordinator).get("/board/?date=2026-03-02")
    assert response.status_code == 200 and "csrftoken" in response.cookies
    assert b'id="day" value="2026-03-02"' in response.content


def test_the_board_defaults_to_tomorrow_in_the_organisations_time_zone(coordinator):
    response = _logged_in(coordinator).get("/board/")
    assert f'id="day" value="{f.tomorrow()}"'.encode() in response.content


def test_the_login_page_is_ours_and_logging_out_ends_the_session(coordinator):
    assert b"Log in" in Client().get("/accounts/login/").content
    client = _logged_in(coordinator)
    assert client.post("/accounts/logout/").status_code == 302
    assert client.get("/board/").status_code == 302


def test_a_break_is_a_window_until_a_plan_places_it(coordinator, therapist, organization):
    day = f.tomorrow()
    m.TherapistBreak.objects.create(
        therapist=therapist, earliest_start=dt.time(11, 30), latest_start=dt.time(13), duration_min=30
    )
    client = _logged_in(coordinator)
    [row] = client.get(f"/board/data?date={day}").json()["therapists"]
    assert [(b["start"][11:16], b["end"][11:16], b["planned"]) for b in row["breaks"]] == [("11:30", "13:30", False)]

    m.PlanRun.objects.create(
        organization=organization, date=day, status=m.PlanStatus.SUCCEEDED, applied_at=timezone.now(),
        result={"routes": [{"therapist_id": therapist.pk, "stops": [], "breaks": [
            {"start": f.local(day, "12:10").isoformat(), "end": f.local(day, "12:40").isoformat()}]}]},
    )
    [row] = client.get(f"/board/data?date={day}").json()["therapists"]
    assert [(b["start"][11:16], b["end"][11:16], b["planned"]) for b in row["breaks"]] == [("12:10", "12:40", True)]


def test_a_therapist_off_that_day_has_no_shift_and_no_break(coordinator, organization):
    off = f.TherapistFactory(organization=organization, weekdays=False)
    m.TherapistBreak.objects.create(
        therapist=off, earliest_start=dt.time(12), latest_start=dt.time(12), duration_min=30
    )
    [row] = _logged_in(coordinator).get(f"/board/data?date={f.tomorrow()}").json()["therapists"]
    assert row["shifts"] == [] and row["breaks"] == []


def test_today_carries_the_time_for_the_now_line(coordinator):
    today = timezone.localdate(timezone=f.TORONTO)
    client = _logged_in(coordinator)
    body = client.get(f"/board/data?date={today}").json()
    assert body["today"] == body["date"] == str(today) and "now" not in body  # the data is the same all minute
    live = client.get(f"/board/live?date={today}").json()
    assert live["today"] == live["date"] == str(today) and live["now"].startswith(str(today))
