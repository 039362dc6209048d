from __future__ import annotations

from celery import shared_task
from django.conf import settings

from dispatch.services.plans import plan_run_execute


@shared_task(
    name="dispatch.plan_run",
    acks_late=True,
    # A worker that dies mid-solve gives the message back, so the run is retried once;
    # plan_run_execute counts attempts and marks the run failed after the second loss.
    reject_on_worker_lost=True,
    time_limit=settings.CELERY_TASK_TIME_LIMIT,
    soft_time_limit=settings.CELERY_TASK_SOFT_TIME_LIMIT,
)
def plan_run_task(plan_run_id: int) -> str:
    return plan_run_execute(plan_run_id=plan_run_id).status
