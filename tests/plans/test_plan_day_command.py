from __future__ import annotations

import datetime as dt
import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from dispatch import models as m
from dispatch.demo.seed import demo_seed
from tests import factories as f

DAY = dt.date(2026, 11, 25)


@pytest.mark.django_db
def test_make_run_plans_and_applies_the_demo_day():
    demo = demo_seed(day=DAY, seed=7)
    out = StringIO()
    with f.clock_at(f.local(DAY - dt.timedelta(days=1), "18:00")):  # the evening before, as make run plans tomorrow
        call_command("plan_day", "--time-limit", "2", stdout=out)
    run = m.PlanRun.objects.get(organization=demo.organization)
    assert run.applied_at is not None
    scheduled = m.Visit.objects.filter(organization=demo.organization, status=m.VisitStatus.SCHEDULED).count()
    assert scheduled == run.result["kpis"]["assigned"] and scheduled >= 60
    assert f"{scheduled} visits assigned" in out.getvalue()
    reasons = {u["code"]: u["reason"] for u in run.result["unassigned"]}
    assert "fever" in reasons["contraindicated"]
    names = set(m.Therapist.objects.filter(organization=demo.organization).values_list("display_name", flat=True))
    # The demo asks for more than twelve therapists can do: some visits are left out for capacity,
    # each with the therapist the plan supports (by name) and, for a swap, the visit it would cost.
    displaced = [u for u in run.result["unassigned"] if u["code"] == "displaced"]
    assert displaced
    for u in displaced:
        assert any(name in u["reason"] for name in names), u["reason"]
        assert not re.search(r"\b(Therapist|visit) \d+", u["reason"]) and "fits alone" not in u["reason"]
    by_visit = {str(u["visit_id"]): u for u in run.result["solution"]["unassigned"]}
    for u in displaced:
        for dropped in by_visit[str(u["visit_id"])]["drops"]:
            initials = m.Visit.objects.get(pk=int(dropped)).patient.initials
            assert f"dropping {initials}'s visit" in u["reason"]


@pytest.mark.django_db
def test_plan_day_names_a_missing_organisation():
    with pytest.raises(CommandError, match="No organisation with slug 'nobody'"):
        call_command("plan_day", "--organization", "nobody")
