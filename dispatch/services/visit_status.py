from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from dispatch.exceptions import DispatchError, TransitionNotAllowed
from dispatch.lifecycle import REASON_REQUIRED, can_transition
from dispatch.models import Patient, Therapist, Visit, VisitStatus
from dispatch.notifications.changes import change_set, changing

if TYPE_CHECKING:
    from dispatch.models import User

TRANSITION_REFUSED = "Visit {visit} cannot go from {current} to {target}."
REASON_MISSING = "A reason is required to mark visit {visit} {target}."
ASSIGNMENT_MISSING = "Visit {visit} needs a therapist and a planned start to be {target}."
# What a transition may change. The rest of the row was valid when it was locked and is saved as it was, so
# full_clean leaves it out: each foreign key it checks is a query, each constraint a query in a savepoint of its own
# (a check-in spent 25 round trips there), and the database holds the same constraints anyway.
TRANSITION_FIELDS = frozenset({
    "status", "status_reason", "sequence", "therapist", "planned_start", "planned_end", "planned_busy_until", "pinned",
    "actual_start", "actual_end",
})
UNTOUCHED_BY_A_TRANSITION = [
    *(f.name for f in Visit._meta.fields if f.name not in TRANSITION_FIELDS), "required_skills",
]
# A therapist the transition keeps is not looked up again (a query); the constraints still read it.
UNTOUCHED_WITH_THE_THERAPIST = [*UNTOUCHED_BY_A_TRANSITION, "therapist"]

@transaction.atomic
@change_set()
def visit_transition(
    *,
    visit: Visit,
    target: str,
    reason: str = "",
    therapist: Therapist | None = None,
    planned_start: datetime | None = None,
    planned_end: datetime | None = None,
    at: datetime | None = None,
    locked: bool = False,
    history_reason: str | None = None,
    by: User | None = None,
) -> Visit:
    """The only place that changes visit.status; every status change goes through it.

    ``locked``: ``visit`` is the row this transaction locked (``select_for_update``), with its organisation,
    facility and therapist, and goes on as it is. ``history_reason`` and ``by`` name the change in its history row.
    """
    if not locked:
        # The organisation, facility and therapist come along (not locked) for the callers' messages, times and
        # travel.
        visit = (
            Visit.objects.select_for_update(of=("self",)).select_related("organization", "facility", "therapist")
            .get(pk=visit.pk)
        )
    changing(visit)
    target = VisitStatus(target)
    if not can_transition(visit.status, target):
        raise TransitionNotAllowed(
            TRANSITION_REFUSED.format(visit=visit.pk, current=visit.status, target=target.value),
            extra={"current": visit.status, "target": target.value},
        )
    if target in REASON_REQUIRED and not reason.strip():
        raise DispatchError(REASON_MISSING.format(visit=visit.pk, target=target.label.lower()), {"field": "reason"})
    now = at or timezone.now()
    if target == VisitStatus.REQUESTED:
        visit.therapist = None
        visit.planned_start = visit.planned_end = visit.planned_busy_until = None
        visit.pinned = False
    if therapist is not None:
        visit.therapist = therapist
    if planned_start is not None:
        visit.planned_start = planned_start
        visit.planned_end = planned_end
    if visit.planned_start is not None and visit.planned_end is not None:
        visit.planned_busy_until = visit.planned_end + timedelta(minutes=visit.effective_buffer_min)
    if target in (VisitStatus.SCHEDULED, VisitStatus.CONFIRMED) and (
        visit.therapist_id is None or visit.planned_start is None
    ):
        raise DispatchError(ASSIGNMENT_MISSING.format(visit=visit.pk, target=target.label.lower()))
    if target == VisitStatus.IN_PROGRESS:
        visit.actual_start = now
    if target == VisitStatus.COMPLETED:
        visit.actual_end = now
        # The session used one of the payer's authorised units (selectors.coverage).
        Patient.objects.filter(pk=visit.patient_id).update(units_used=F("units_used") + 1, updated_at=now)
    visit.status = target
    visit.status_reason = reason.strip()
    visit.sequence += 1
    visit.full_clean(
        exclude=UNTOUCHED_BY_A_TRANSITION if therapist is not None else UNTOUCHED_WITH_THE_THERAPIST,
        validate_constraints=False,
    )
    visit.validate_constraints(exclude=UNTOUCHED_BY_A_TRANSITION)
    if history_reason is not None:
        visit._change_reason = history_reason
    if by is not None:
        visit._history_user = by
    visit.save()
    return visit
