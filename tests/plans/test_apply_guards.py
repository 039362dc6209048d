"""A plan never takes booked visits away silently, and a plan the solver could not make is no plan."""
from __future__ import annotations

import dataclasses
import datetime as dt
import sys
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

import optimizer
from dispatch import models as m
from dispatch.services.booking import visit_book
from tests import factories as f


def _plan(client, day, **extra):
    return client.post("/api/v1/plans", {"date": str(day), "time_limit_s": 1, **extra}, format="json")


def _fever(visit: m.Visit) -> None:
    m.Contraindication.objects.create(patient=visit.patient, kind="fever", active_from=visit.date - dt.timedelta(days=1))


@pytest.fixture
def booked_day(coordinator_client, small_day):
    """small_day planned and applied: ten booked visits tomorrow."""
    day, therapists, visits = small_day
    run = _plan(coordinator_client, day).data
    assert coordinator_client.post(f"/api/v1/plans/{run['id']}/apply").status_code == 200
    assert m.Visit.objects.filter(pk__in=[v.pk for v in visits], status=m.VisitStatus.SCHEDULED).count() == 10
    return day, therapists, visits


def test_a_run_whose_solver_found_no_plan_fails_with_a_plain_reason_and_cannot_be_applied(
    coordinator_client, booked_day, monkeypatch
):
    day, _, visits = booked_day
    solve_module = sys.modules["optimizer.solve"]
    real_solve = optimizer.solve

    def search_found_nothing(problem, **kwargs):
        # What solve() returns when the search ends without a first plan (a loaded machine, a short limit).
        solution = real_solve(problem, **kwargs)
        return dataclasses.replace(
            solution, routes=(), status="no_solution", unassigned=tuple(solve_module.explain_unassigned(problem, []))
        )

    monkeypatch.setattr(optimizer, "solve", search_found_nothing)

    run = _plan(coordinator_client, day).data
    applied = coordinator_client.post(f"/api/v1/plans/{run['id']}/apply", {"drop_booked": True}, format="json")

    assert run["status"] == "failed"
    assert run["error"].startswith("The optimiser found no plan within 1.0 s")
    assert "fits alone" not in run["error"] and run["result"] is None
    assert applied.status_code == 409 and "only a succeeded plan" in applied.data["detail"]
    assert m.Visit.objects.filter(pk__in=[v.pk for v in visits], status=m.VisitStatus.SCHEDULED).count() == 10


def test_a_plan_that_would_unbook_a_booked_visit_says_so_and_apply_refuses_it(coordinator_client, booked_day):
    day, _, visits = booked_day
    _fever(visits[0])

    run = _plan(coordinator_client, day).data
    refused = coordinator_client.post(f"/api/v1/plans/{run['id']}/apply", {}, format="json")

    assert run["status"] == "succeeded"
    assert run["result"]["would_unbook"] == {"count": 1, "visit_ids": [visits[0].pk]}
    assert refused.status_code == 409
    assert refused.data["code"] == "drops_booked_visits"
    assert refused.data["extra"] == {"count": 1, "visits": [visits[0].pk]}
    assert f"would unbook 1 booked visit(s) ({visits[0].pk})" in refused.data["detail"]
    visits[0].refresh_from_db()
    assert visits[0].status == m.VisitStatus.SCHEDULED and visits[0].therapist_id is not None
    assert m.PlanRun.objects.get(pk=run["id"]).applied_at is None


def test_apply_with_drop_booked_unbooks_what_the_plan_leaves_out(coordinator_client, booked_day):
    day, _, visits = booked_day
    _fever(visits[0])
    run = _plan(coordinator_client, day).data

    applied = coordinator_client.post(f"/api/v1/plans/{run['id']}/apply", {"drop_booked": True}, format="json")

    assert applied.status_code == 200, applied.data
    visits[0].refresh_from_db()
    assert visits[0].status == m.VisitStatus.REQUESTED and visits[0].therapist_id is None
    assert visits[0].status_reason == f"left unassigned by plan {run['id']}"
    assert m.Visit.objects.filter(pk__in=[v.pk for v in visits[1:]], status=m.VisitStatus.SCHEDULED).count() == 9


def test_a_confirmed_visit_the_plan_leaves_out_is_guarded_too(coordinator_client, booked_day):
    day, _, visits = booked_day
    m.Visit.objects.filter(pk=visits[1].pk).update(status=m.VisitStatus.CONFIRMED)
    _fever(visits[1])
    run = _plan(coordinator_client, day).data

    refused = coordinator_client.post(f"/api/v1/plans/{run['id']}/apply", format="json")

    assert refused.status_code == 409 and refused.data["extra"]["visits"] == [visits[1].pk]


def test_a_plan_that_keeps_every_booking_applies_without_the_flag(coordinator_client, booked_day):
    day, _, _ = booked_day
    run = _plan(coordinator_client, day).data

    assert run["result"]["would_unbook"]["count"] == 0
    assert coordinator_client.post(f"/api/v1/plans/{run['id']}/apply").status_code == 200


def test_drop_booked_must_be_a_boolean(coordinator_client, booked_day):
    day, _, _ = booked_day
    run = _plan(coordinator_client, day).data

    response = coordinator_client.post(f"/api/v1/plans/{run['id']}/apply", {"drop_booked": "perhaps"}, format="json")

    assert response.status_code == 400 and "drop_booked" in response.data


def test_a_replan_that_would_unbook_a_visit_is_refused_until_the_coordinator_says_so(
    organization, therapist, coordinator_client
):
    today = timezone.localdate(timezone=f.TORONTO)
    patients = [f.PatientFactory(organization=organization, lat=43.66, lon=-79.40) for _ in range(2)]
    visits = [
        visit_book(
            visit=f.VisitFactory(organization=organization, patient=p, date=today, windows=[("13:00", "17:00")]),
            therapist=therapist,
            planned_start=f.local(today, hhmm),
        )
        for p, hhmm in zip(patients, ("14:00", "15:00"), strict=True)
    ]
    _fever(visits[0])
    proposal = coordinator_client.post("/api/v1/replan", {"now": f.local(today, "08:00").isoformat()}, format="json")

    refused = coordinator_client.post(f"/api/v1/plans/{proposal.data['id']}/apply", {}, format="json")
    applied = coordinator_client.post(
        f"/api/v1/plans/{proposal.data['id']}/apply", {"drop_booked": True}, format="json"
    )

    assert proposal.status_code == 201, proposal.data
    assert proposal.data["would_unbook"] == {"count": 1, "visit_ids": [visits[0].pk]}
    assert refused.status_code == 409 and refused.data["extra"]["visits"] == [visits[0].pk]
    assert applied.status_code == 200, applied.data
    assert m.Visit.objects.get(pk=visits[0].pk).status == m.VisitStatus.REQUESTED
    assert m.Visit.objects.get(pk=visits[1].pk).status == m.VisitStatus.SCHEDULED


def test_plan_day_refuses_to_unbook_unless_told(booked_day, organization):
    day, _, visits = booked_day
    _fever(visits[0])
    args = ("plan_day", "--organization", organization.slug, "--date", str(day), "--time-limit", "1")

    with pytest.raises(CommandError, match="would unbook 1 booked visit"):
        call_command(*args, stdout=StringIO())
    assert m.Visit.objects.get(pk=visits[0].pk).status == m.VisitStatus.SCHEDULED

    call_command(*args, "--drop-booked", stdout=StringIO())
    assert m.Visit.objects.get(pk=visits[0].pk).status == m.VisitStatus.REQUESTED


@pytest.mark.parametrize("change", ["time_off", "switched_off"])
def test_a_plan_made_before_a_therapists_hours_changed_is_refused_and_books_nothing(
    coordinator_client, small_day, change
):
    """Made, then the therapist it books is given the day off (or switched off): applied, it would book them on a
    day they do not work. Before, apply wrote it."""
    day, therapists, visits = small_day
    run = _plan(coordinator_client, day).data
    booked_on = {stop["visit_id"]: route["therapist_id"] for route in run["result"]["routes"] for stop in route["stops"]}
    therapist = next(t for t in therapists if t.pk in booked_on.values())
    if change == "time_off":
        off = coordinator_client.post(
            "/api/v1/availability/exceptions", {"therapist": therapist.pk, "date": str(day), "kind": "time_off"},
            format="json",
        )
    else:
        off = coordinator_client.patch(f"/api/v1/therapists/{therapist.pk}", {"active": False}, format="json")
    assert off.status_code in (200, 201), off.content

    refused = coordinator_client.post(f"/api/v1/plans/{run['id']}/apply", {}, format="json")

    assert refused.status_code == 409, refused.content
    assert refused.data["detail"] == (
        f"Therapists' hours for {day} changed since plan {run['id']} was made; start a new plan."
    )
    assert not m.Visit.objects.filter(pk__in=[v.pk for v in visits], therapist__isnull=False).exists()
    assert m.PlanRun.objects.get(pk=run["id"]).applied_at is None


def test_a_plan_whose_hours_did_not_change_still_applies(coordinator_client, small_day):
    day, therapists, _ = small_day
    run = _plan(coordinator_client, day).data
    other_day = day + dt.timedelta(days=1)  # hours of another day are not this plan's
    off = coordinator_client.post(
        "/api/v1/availability/exceptions", {"therapist": therapists[0].pk, "date": str(other_day), "kind": "time_off"},
        format="json",
    )
    assert off.status_code == 201, off.content

    assert coordinator_client.post(f"/api/v1/plans/{run['id']}/apply", {}, format="json").status_code == 200


@pytest.mark.parametrize("change", ["units", "referral", "exclusion"])
def test_a_plan_made_before_a_patient_change_that_rules_its_booking_out_is_refused(
    coordinator_client, organization, coordinator, change
):
    """Lowering the units with nothing booked to take off moves no visit, so the plan is not stale; apply checks the
    patient's units, referral and wishes again and refuses (409) rather than book a session nobody pays for."""
    day = f.tomorrow()
    therapist = f.TherapistFactory(organization=organization)
    patient = f.PatientFactory(organization=organization, units_authorized=6, units_used=1)
    visit = f.VisitFactory(organization=organization, patient=patient, date=day, duration_min=30,
                           windows=[("08:30", "16:30")])
    started = coordinator_client.post("/api/v1/plans", {"date": str(day), "time_limit_s": 1}, format="json")
    run = coordinator_client.get(started["Location"]).json()
    assert run["status"] == "succeeded" and run["result"]["kpis"]["assigned"] == 1

    body = {
        "units": {"units_authorized": 1},
        "referral": {"referral_expires": str(day - dt.timedelta(days=1))},
        "exclusion": {"excluded_therapists": [therapist.pk]},
    }[change]
    assert coordinator_client.patch(f"/api/v1/patients/{patient.pk}", body, format="json").status_code == 200
    refused = coordinator_client.post(f"/api/v1/plans/{run['id']}/apply")

    assert refused.status_code == 409, refused.content
    assert refused.json()["extra"]["visits"] == [visit.pk] and "start a new plan" in refused.json()["detail"]
    visit.refresh_from_db()
    assert visit.status == m.VisitStatus.REQUESTED and visit.therapist_id is None
