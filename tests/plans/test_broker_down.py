from __future__ import annotations

import time

import pytest

from dispatch import models as m
from dispatch.services.plans import plan_run_create
from tests.plans.conftest import celery_broker


@pytest.mark.django_db(transaction=True)
def test_with_the_broker_down_a_plan_still_runs_and_says_why(settings, small_day, organization):
    with celery_broker(settings, "redis://127.0.0.1:1/0"):  # nothing listens on port 1
        day, _, visits = small_day
        run = plan_run_create(organization=organization, day=day, created_by=None, time_limit_s=1)
        deadline = time.monotonic() + 60
        while run.status not in (m.PlanStatus.SUCCEEDED, m.PlanStatus.FAILED) and time.monotonic() < deadline:
            time.sleep(0.2)
            run.refresh_from_db()
    assert run.status == m.PlanStatus.SUCCEEDED
    assert run.error.startswith("Broker unreachable, ran in-process")
    assert len({s["visit_id"] for r in run.result["routes"] for s in r["stops"]}) == len(visits)
