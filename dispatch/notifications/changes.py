"""Collect the visits a write touches and tell people once, when the outermost write service is done.

Each write service runs inside ``change_set()`` and says ``changing(visit)`` before it changes a
visit. Sets nest: a plan apply calls visit_transition, which opens its own set; only the outermost one
compares the first "before" with what the database holds at its end and writes the outbox rows. So a
plan, a booking or an interruption is one change, told once per person however many steps it took.
"""
from __future__ import annotations

import contextvars
import datetime as dt
import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from simple_history.models import HistoricalRecords

if TYPE_CHECKING:
    from dispatch.models import User, Visit


@dataclass(frozen=True)
class VisitState:
    therapist_id: int | None
    status: str
    planned_start: dt.datetime | None
    reason: str = ""


def visit_state(visit: Visit) -> VisitState:
    return VisitState(visit.therapist_id, visit.status, visit.planned_start, visit.status_reason)


@dataclass
class _ChangeSet:
    key: str | None
    before: dict[int, VisitState] = field(default_factory=dict)


_current: contextvars.ContextVar[_ChangeSet | None] = contextvars.ContextVar("rounds_change_set", default=None)


@contextmanager
def change_set() -> Iterator[None]:
    """Use inside the service's transaction (below @transaction.atomic) so the outbox rows share it."""
    if _current.get() is not None:
        yield
        return
    changes = _ChangeSet(key=None)
    token = _current.set(changes)
    try:
        yield
    finally:
        _current.reset(token)
    if changes.before:
        from dispatch.notifications.visit_changes import visit_changes_notify

        visit_changes_notify(key=changes.key, before=changes.before, by=request_user())


def changing(*visits: Visit, key: str | None = None) -> None:
    """Remember how ``visits`` are before this change (the first call in a set wins); ``key`` names the change."""
    changes = _current.get()
    if changes is None:
        return
    changes.key = changes.key or key
    for visit in visits:
        changes.before.setdefault(visit.pk, visit_state(visit))


def request_user() -> User | None:
    """Who made the change, when it came through a request: they are not told of their own change.

    django-simple-history's middleware keeps the request for the history rows' user; it is the same actor.
    """
    request = getattr(HistoricalRecords.context, "request", None)
    user = getattr(request, "user", None)
    return user if user is not None and user.is_authenticated else None


def change_key_for(sequences: dict[int, int]) -> str:
    """A change no plan names is named by what it left: each changed visit's id and new sequence."""
    pairs = ",".join(f"{pk}@{sequence}" for pk, sequence in sorted(sequences.items()))
    if len(pairs) <= 100:
        return f"visit:{pairs}"
    return "visits:" + hashlib.sha256(pairs.encode()).hexdigest()[:32]
