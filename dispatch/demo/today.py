"""Start the demo's today: plan it, apply it, and check the morning's therapists in at their first visit.

Then a newcomer can report a delay (or mark a therapist off) and watch the re-plan proposal.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from dispatch.models import Organization, PlanStatus, Visit, VisitStatus
from dispatch.services.plans import plan_run_apply, plan_run_create, plan_run_execute
from dispatch.services.visit_actions import visit_check_in


@dataclass(frozen=True)
class DemoToday:
    day: dt.date
    planned: int
    checked_in: list[Visit]  # the first visit of each therapist starting before MORNING, under way
    next_visits: list[Visit]  # each therapist's second visit: the one to report a delay on


MORNING = dt.time(10, 0)  # first visits starting before this are under way when the demo starts
EVENING_BEFORE = dt.time(18, 0)  # when the demo's today counts as planned


def demo_today_start(*, organization: Organization, day: dt.date, time_limit_s: float = 10.0) -> DemoToday:
    # The demo sets up a day as a coordinator would have left it: planned and applied the evening before
    # (a day plan made today, once the day has begun, is refused; the re-plan is for that).
    evening_before = dt.datetime.combine(day - dt.timedelta(days=1), EVENING_BEFORE, tzinfo=organization.tz)
    run = plan_run_create(
        organization=organization, day=day, created_by=None, time_limit_s=time_limit_s, execute=False,
        as_of=evening_before,
    )
    run = plan_run_execute(plan_run_id=run.pk)
    if run.status != PlanStatus.SUCCEEDED:
        raise RuntimeError(f"Plan {run.pk} for {day} failed: {run.error}")
    with transaction.atomic():
        plan_run_apply(plan_run=run, applied_by=None, as_of=evening_before)
        booked = Visit.objects.filter(
            organization=organization, date=day, status=VisitStatus.SCHEDULED
        ).select_related("therapist__user").order_by("therapist_id", "planned_start")
        by_therapist: dict[int, list[Visit]] = {}
        for visit in booked:
            by_therapist.setdefault(visit.therapist_id, []).append(visit)
        # Only a first visit already due is under way: one still to come is its therapist's to check in
        # (a check-in dated ahead of the clock is refused).
        morning, now = dt.datetime.combine(day, MORNING, tzinfo=organization.tz), timezone.now()
        checked_in = [
            visit_check_in(visit=own[0], by=own[0].therapist.user, at=own[0].planned_start).visit
            for own in by_therapist.values()
            if own[0].planned_start < morning and own[0].planned_start <= now
        ]
    return DemoToday(
        day=day,
        planned=run.result["kpis"]["assigned"],
        checked_in=checked_in,
        next_visits=[own[1] for own in by_therapist.values() if len(own) > 1],
    )
