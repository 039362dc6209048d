"""A per-organisation counter that moves whenever anything shown on a schedule changes.

Cached schedules put it in their key, so a change is visible on the next read without anyone
having to know which cached days it touched. Saves and deletes of the models a schedule reads
bump it (signals: this is cache bookkeeping, not business logic); QuerySet.update() does not
fire signals, so code that changes visits goes through save(), as the services do.
"""
from __future__ import annotations

from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save

from dispatch import models as m

KEY = "schedule-version:{org}"


def schedule_version(organization_id: int) -> int:
    return cache.get_or_set(KEY.format(org=organization_id), 1, timeout=None)


def schedule_version_bump(organization_id: int | None) -> None:
    if organization_id is None:
        return
    key = KEY.format(org=organization_id)
    try:
        cache.incr(key)
    except ValueError:  # not set yet (or evicted): any new value invalidates
        cache.set(key, 2, timeout=None)


def _organization_id(instance) -> int | None:
    if hasattr(instance, "organization_id"):
        return instance.organization_id
    therapist = getattr(instance, "therapist", None)
    return therapist.organization_id if therapist is not None else None


def _changed(sender, instance, **kwargs) -> None:
    org = _organization_id(instance)
    # Now, so this transaction reads its own change; and again after commit, so a reader that
    # cached the old state meanwhile (under the first new version) is not believed either.
    schedule_version_bump(org)
    transaction.on_commit(lambda: schedule_version_bump(org))


WATCHED = (m.Visit, m.Therapist, m.WeeklyAvailability, m.AvailabilityException, m.TherapistBreak, m.Facility, m.Patient)


def connect() -> None:
    for model in WATCHED:
        post_save.connect(_changed, sender=model, dispatch_uid=f"schedule-version-save-{model.__name__}")
        post_delete.connect(_changed, sender=model, dispatch_uid=f"schedule-version-delete-{model.__name__}")
    m2m_changed.connect(_changed, sender=m.Visit.required_skills.through, dispatch_uid="schedule-version-skills")
