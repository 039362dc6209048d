"""Switching a therapist off (`PATCH /api/v1/therapists/{id}` with active false) sends the visits still booked on
them from today on back to the requests, with the reason, in the same transaction; a session under way is finished
first. Before, those visits stayed booked on someone who no longer saw them anywhere."""
from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from dispatch import models as m
from dispatch.models import VisitStatus
from dispatch.services.booking import visit_book
from dispatch.services.visit_status import visit_transition
from tests import factories as f
from tests.admin_forms import admin_change_form_data

WEDNESDAY = dt.date(2027, 1, 13)


@pytest.fixture
def week(therapist, coordinator):
    """Yesterday's visit nobody closed, this morning's done one, this afternoon's and tomorrow's booked ones."""
    booked = {}
    for name, day, hhmm in (
        ("yesterday", WEDNESDAY - dt.timedelta(days=1), "09:00"), ("done", WEDNESDAY, "09:00"),
        ("afternoon", WEDNESDAY, "14:00"), ("tomorrow", WEDNESDAY + dt.timedelta(days=1), "09:00"),
    ):
        visit = f.VisitFactory(organization=therapist.organization, date=day, windows=[("08:00", "16:00")])
        booked[name] = visit_book(visit=visit, therapist=therapist, planned_start=f.local(day, hhmm), by=coordinator)
    with f.clock_at(f.local(WEDNESDAY, "09:00")):
        visit_transition(visit=booked["done"], target=VisitStatus.IN_PROGRESS)
    with f.clock_at(f.local(WEDNESDAY, "09:30")):
        visit_transition(visit=booked["done"], target=VisitStatus.COMPLETED)
    return booked


def _status(visit) -> tuple[str, int | None]:
    visit.refresh_from_db()
    return visit.status, visit.therapist_id


def test_switching_a_therapist_off_unbooks_what_is_still_to_come_and_says_why(
    therapist, coordinator, coordinator_client, week
):
    with f.clock_at(f.local(WEDNESDAY, "11:00")):
        response = coordinator_client.patch(f"/api/v1/therapists/{therapist.pk}", {"active": False}, format="json")

        assert response.status_code == 200, response.content
        assert response.data["active"] is False
        for name in ("afternoon", "tomorrow"):
            assert _status(week[name]) == (VisitStatus.REQUESTED, None), name
            assert week[name].status_reason == (
                f"Unbooked: {therapist.display_name} was switched off; the visit is open to plan again."
            )
        assert _status(week["done"]) == (VisitStatus.COMPLETED, therapist.pk)  # the record of what happened stays
        assert _status(week["yesterday"]) == (VisitStatus.SCHEDULED, therapist.pk)  # a past day is not re-planned

        board = _board(coordinator, WEDNESDAY)
        shown = {v["id"]: v for v in board["unassigned"]}
        assert shown[week["afternoon"].pk]["reason"] == week["afternoon"].status_reason
        rows = {t["id"]: t for t in board["therapists"]}
        assert [v["id"] for v in rows[therapist.pk]["visits"]] == [week["done"].pk]  # what they did today stays shown
        assert therapist.pk not in {t["id"] for t in _board(coordinator, WEDNESDAY + dt.timedelta(days=1))["therapists"]}


def _board(user, day):
    client = Client()
    client.force_login(user)
    response = client.get(f"/board/data?date={day}")
    assert response.status_code == 200
    return response.json()


def test_a_therapist_in_a_session_is_not_switched_off_until_they_check_out(
    therapist, coordinator_client, week
):
    with f.clock_at(f.local(WEDNESDAY, "14:05")):
        visit_transition(visit=week["afternoon"], target=VisitStatus.IN_PROGRESS)
        response = coordinator_client.patch(f"/api/v1/therapists/{therapist.pk}", {"active": False}, format="json")

    assert response.status_code == 409
    assert f"is in visit {week['afternoon'].pk} now" in response.data["detail"]
    therapist.refresh_from_db()
    assert therapist.active is True
    assert _status(week["tomorrow"]) == (VisitStatus.SCHEDULED, therapist.pk)  # nothing half done


def test_switching_off_twice_or_changing_something_else_unbooks_nothing_more(therapist, coordinator_client, week):
    with f.clock_at(f.local(WEDNESDAY, "11:00")):
        first = coordinator_client.patch(f"/api/v1/therapists/{therapist.pk}", {"active": False}, format="json")
        assert first.status_code == 200
        again = f.VisitFactory(organization=therapist.organization, date=WEDNESDAY + dt.timedelta(days=1))
        m.Visit.objects.filter(pk=again.pk).update(  # booked on them by a path that does not ask (an old import)
            status=VisitStatus.SCHEDULED, therapist=therapist, planned_start=f.local(again.date, "10:00"),
            planned_end=f.local(again.date, "10:30"), planned_busy_until=f.local(again.date, "10:35"),
        )
        second = coordinator_client.patch(
            f"/api/v1/therapists/{therapist.pk}", {"active": False, "display_name": "Renamed"}, format="json"
        )

    assert second.status_code == 200
    assert _status(again) == (VisitStatus.SCHEDULED, therapist.pk)  # only the switch itself unbooks


def test_switching_a_therapist_back_on_books_nothing_back(therapist, coordinator_client, week):
    with f.clock_at(f.local(WEDNESDAY, "11:00")):
        coordinator_client.patch(f"/api/v1/therapists/{therapist.pk}", {"active": False}, format="json")
        response = coordinator_client.patch(f"/api/v1/therapists/{therapist.pk}", {"active": True}, format="json")

    assert response.status_code == 200
    assert _status(week["tomorrow"]) == (VisitStatus.REQUESTED, None)  # the next plan decides


@pytest.mark.parametrize("in_a_session", [False, True])
def test_the_admins_switch_off_unbooks_as_the_api_does(client, therapist, week, in_a_session):
    staff = f.UserFactory(organization=therapist.organization, is_staff=True)
    staff.user_permissions.set(Permission.objects.filter(content_type__app_label="dispatch"))
    url = reverse("admin:dispatch_therapist_change", args=[therapist.pk])
    with f.clock_at(f.local(WEDNESDAY, "14:05")):
        client.force_login(staff)
        if in_a_session:
            visit_transition(visit=week["afternoon"], target=VisitStatus.IN_PROGRESS)
        data = admin_change_form_data(client.get(url))
        data.pop("active")
        response = client.post(url, data)

    therapist.refresh_from_db()
    if in_a_session:
        assert response.status_code == 200  # the form again, with the field's error
        assert "switch off once they have checked out" in response.content.decode()
        assert therapist.active is True and _status(week["tomorrow"]) == (VisitStatus.SCHEDULED, therapist.pk)
    else:
        assert response.status_code == 302, response.context["adminform"].form.errors
        assert therapist.active is False and _status(week["tomorrow"]) == (VisitStatus.REQUESTED, None)


def test_weekly_hours_and_skills_taken_away_in_the_admins_therapist_form_unbook_as_the_api_does(
    client, therapist, week
):
    staff = f.UserFactory(organization=therapist.organization, is_staff=True)
    staff.user_permissions.set(Permission.objects.filter(content_type__app_label="dispatch"))
    url = reverse("admin:dispatch_therapist_change", args=[therapist.pk])
    thursday = week["tomorrow"].date.weekday()
    with f.clock_at(f.local(WEDNESDAY, "11:00")):
        client.force_login(staff)
        page = client.get(url)
        data = admin_change_form_data(page)
        for inline in page.context["inline_admin_formsets"]:
            for form in inline.formset.forms:
                if isinstance(form.instance, m.WeeklyAvailability) and form.instance.weekday == thursday:
                    data[form.add_prefix("DELETE")] = "on"  # no longer works Thursdays
        response = client.post(url, data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    assert not therapist.weekly_availability.filter(weekday=thursday).exists()
    week["tomorrow"].refresh_from_db()
    assert (week["tomorrow"].status, week["tomorrow"].therapist_id) == (VisitStatus.REQUESTED, None)
    assert "no longer working then" in week["tomorrow"].status_reason
    assert _status(week["afternoon"]) == (VisitStatus.SCHEDULED, therapist.pk)  # Wednesday's hours stand
