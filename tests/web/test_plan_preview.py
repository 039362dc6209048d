"""The board's preview of a plan: what it would move, reassign, unbook and add, in words and counts."""
from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.test import APIClient

from dispatch import models as m
from dispatch.services.booking import visit_book
from tests import factories as f


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def two(organization):
    return (f.TherapistFactory(organization=organization, display_name="Farah Haddad"),
            f.TherapistFactory(organization=organization, display_name="Ben Tremblay"))


def _booked(organization, therapist, coordinator, at: str) -> m.Visit:
    visit = f.VisitFactory(organization=organization, windows=[("08:00", "17:00")])
    return visit_book(visit=visit, therapist=therapist, planned_start=f.local(visit.date, at), by=coordinator)


def test_each_kind_of_change_is_counted_and_said_in_words(organization, coordinator, two):
    farah, ben = two
    day = f.tomorrow()
    moved = _booked(organization, farah, coordinator, "09:00")
    reassigned = _booked(organization, farah, coordinator, "11:00")
    unbooked = _booked(organization, ben, coordinator, "13:00")
    kept = _booked(organization, ben, coordinator, "15:00")
    added = f.VisitFactory(organization=organization, windows=[("08:00", "17:00")])

    def stop(visit, at, until):
        return {"visit_id": visit.pk, "start": f.local(day, at).isoformat(), "end": f.local(day, until).isoformat()}

    run = m.PlanRun.objects.create(
        organization=organization, date=day, status=m.PlanStatus.SUCCEEDED,
        input_sequences={str(v.pk): v.sequence for v in (moved, reassigned, unbooked, kept, added)},
        result={"kpis": {"assigned": 4}, "routes": [
            {"therapist_id": farah.pk, "stops": [stop(moved, "10:00", "10:30")]},
            {"therapist_id": ben.pk, "stops": [stop(reassigned, "11:00", "11:30"), stop(added, "14:00", "14:30"),
                                               stop(kept, "15:00", "15:30")]},
        ], "unassigned": [{"visit_id": unbooked.pk, "code": "unreachable", "reason": "Cannot be reached in time."}]},
    )
    preview = _client(coordinator).get(f"/board/plans/{run.pk}/preview").json()
    assert preview["counts"] == {"moved": 1, "reassigned": 1, "unbooked": 1, "added": 1}
    words = {c["visit"]: c["text"] for c in preview["changes"]}
    assert kept.pk not in words
    assert words[moved.pk] == f"{moved.patient.initials}'s 09:00 visit with Farah moves to 10:00."
    assert words[reassigned.pk] == f"Ben takes {reassigned.patient.initials}'s 11:00 visit from Farah, at 11:00."
    assert words[unbooked.pk] == (
        f"{unbooked.patient.initials}'s 13:00 visit with Ben is unbooked: Cannot be reached in time."
    )
    assert words[added.pk] == f"Ben takes {added.patient.initials}'s new visit at 14:00."
    ghost = next(c for c in preview["changes"] if c["visit"] == added.pk)
    assert ghost["new"]["therapist"] == ben.pk and ghost["old"] is None


def test_a_real_plan_that_cannot_keep_a_booked_visit_says_it_would_unbook_it(organization, coordinator, two):
    farah, _ = two
    farah.skills.set([m.Skill.objects.get(code="oncology")])
    visit = f.VisitFactory(organization=organization, windows=[("08:00", "17:00")])
    visit.required_skills.set([m.Skill.objects.get(code="oncology")])
    visit = visit_book(visit=visit, therapist=farah, planned_start=f.local(visit.date, "10:00"), by=coordinator)
    farah.skills.clear()  # nobody can serve it any more
    api = APIClient()
    api.force_authenticate(coordinator)
    run = api.post("/api/v1/plans", {"date": str(visit.date), "time_limit_s": 1}, format="json").json()
    preview = _client(coordinator).get(f"/board/plans/{run['id']}/preview").json()
    assert preview["counts"]["unbooked"] == 1
    [change] = [c for c in preview["changes"] if c["visit"] == visit.pk]
    assert change["kind"] == "unbooked" and "oncology" in change["text"]


def test_only_coordinators_of_the_plans_organisation_preview_it(organization, coordinator, therapist):
    run = m.PlanRun.objects.create(organization=organization, date=f.tomorrow(), status=m.PlanStatus.SUCCEEDED,
                                   result={"routes": [], "unassigned": []})
    outsider = f.UserFactory()
    assert _client(outsider).get(f"/board/plans/{run.pk}/preview").status_code == 404
    assert _client(therapist.user).get(f"/board/plans/{run.pk}/preview").status_code == 403
    queued = m.PlanRun.objects.create(organization=organization, date=f.tomorrow())
    assert _client(coordinator).get(f"/board/plans/{queued.pk}/preview").status_code == 409
