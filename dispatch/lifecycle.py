"""The visit lifecycle: the one table of allowed status changes."""
from __future__ import annotations

from dispatch.models import VisitStatus as S

TRANSITIONS: dict[str, frozenset[str]] = {
    S.REQUESTED: frozenset({S.SCHEDULED, S.CANCELLED}),
    S.SCHEDULED: frozenset({S.REQUESTED, S.CONFIRMED, S.IN_PROGRESS, S.CANCELLED, S.NO_SHOW}),
    S.CONFIRMED: frozenset({S.REQUESTED, S.SCHEDULED, S.IN_PROGRESS, S.CANCELLED, S.NO_SHOW}),
    S.IN_PROGRESS: frozenset({S.COMPLETED}),
    S.COMPLETED: frozenset(),
    S.CANCELLED: frozenset(),
    S.NO_SHOW: frozenset(),
}

# A reason is owed to the patient's record for these.
REASON_REQUIRED = frozenset({S.CANCELLED, S.NO_SHOW})


def can_transition(current: str, target: str) -> bool:
    return target in TRANSITIONS[current]
