"""Start the demo's today: plan it, apply it, and play it up to now (what is over done, what is due under way).

Then a newcomer can report a delay (or mark a therapist off) and watch the re-plan proposal.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from dispatch.models import Organization, PlanStatus, Visit, VisitStatus
from dispatch.services.plans import plan_run_apply, plan_run_create, plan_run_execute
from dispatch.services.visit_actions import visit_check_in, visit_check_out


@dataclass(frozen=True)
class DemoToday:
    day: dt.date
    planned: int
    completed: int  # visits over by now, checked in and out at their planned times
    checked_in: list[Visit]  # the visits under way now, checked in at their planned start
    next_visits: list[Visit]  # each therapist's next visit still to come: the one to report a delay on


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
        # The day played up to now, as if every therapist had kept to the plan: what is over was checked in and
        # out on time, what is under way was checked in at its start, what is to come waits (a check-in dated
        # ahead of the clock is refused). Started in the evening, the board shows a day done, not one all late.
        now = timezone.now()
        completed, checked_in, next_visits = 0, [], []
        for own in by_therapist.values():
            for visit in own:
                if visit.planned_start > now:
                    next_visits.append(visit)
                    break
                user = visit.therapist.user
                visit = visit_check_in(visit=visit, by=user, at=visit.planned_start).visit
                if visit.planned_end > now:
                    checked_in.append(visit)
                    continue
                visit_check_out(visit=visit, by=user, at=visit.planned_end)
                completed += 1
    return DemoToday(
        day=day, planned=run.result["kpis"]["assigned"], completed=completed, checked_in=checked_in,
        next_visits=next_visits,
    )
