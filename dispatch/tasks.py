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


# Both tasks may run twice (acks_late, a lost worker): sending claims each row, so a retry sends only
# what is still due.
@shared_task(name="dispatch.notifications_flush", acks_late=True, reject_on_worker_lost=True)
def notifications_flush_task() -> dict[str, int]:
    from dispatch.notifications.runner import flush_all

    return flush_all()


@shared_task(name="dispatch.notifications_tick", acks_late=True, reject_on_worker_lost=True)
def notifications_tick_task() -> dict[str, int]:
    from dispatch.notifications.runner import notifications_tick

    return notifications_tick()
