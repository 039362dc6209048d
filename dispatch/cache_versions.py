"""Counters that move whenever anything a cached read shows changes.

Cached schedules and board days put the organisation's schedule version in their key, so a change is
visible on the next read without anyone having to know which cached days it touched. A calendar feed's
validator holds the versions it was made under: its owner's (a therapist's or a facility's, moved by changes
to its visits) and the organisation's feed version (moved by edits to the records a feed shows), so a
check-in moves only the feeds that carry the visit and an unchanged feed answers 304 from the cache.

Saves and deletes of the models these reads show bump them (signals: this is cache bookkeeping, not
business logic); QuerySet.update() does not fire signals, so code that changes visits goes through
save(), as the services do.
"""
from __future__ import annotations

import time
from collections.abc import Iterable

from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save

from dispatch import models as m

KEY = "schedule-version:{org}"
FEED_KEY = "feed-version:{kind}:{pk}"
FEED_ORG_KEY = "feed-version:org:{org}"


def _versions(keys: list[str]) -> list[int]:
    found = cache.get_many(keys)
    for key in keys:
        if key not in found:
            # A fresh start (or an evicted counter) takes a value never used before, so no entry cached under an
            # earlier value of this counter can be served again.
            cache.add(key, time.time_ns(), timeout=None)
            found[key] = cache.get(key)
    return [found[key] for key in keys]


def _bump(key: str) -> None:
    try:
        cache.incr(key)
    except ValueError:  # not set yet (or evicted): any new value invalidates
        cache.set(key, time.time_ns(), timeout=None)


def _bump_now_and_on_commit(keys: Iterable[str]) -> None:
    keys = list(keys)

    def bump() -> None:
        for key in keys:
            _bump(key)

    # Now, so this transaction reads its own change; and again after commit, so a reader that
    # cached the old state meanwhile (under the first new version) is not believed either.
    bump()
    transaction.on_commit(bump)


def schedule_version(organization_id: int) -> int:
    return _versions([KEY.format(org=organization_id)])[0]


def schedule_version_bump(organization_id: int | None) -> None:
    if organization_id is not None:
        _bump(KEY.format(org=organization_id))


def feed_version_and(*, kind: str, pk: int, organization_id: int, key: str) -> tuple[str, object]:
    """One feed's version (its owner's and its organisation's) and what the cache holds under key, in one round trip:
    an unchanged feed's poll is answered from these."""
    counters = [FEED_KEY.format(kind=kind, pk=pk), FEED_ORG_KEY.format(org=organization_id)]
    found = cache.get_many([*counters, key])
    owner, org = [found[c] for c in counters] if all(c in found for c in counters) else _versions(counters)
    return f"{owner}.{org}", found.get(key)


def _organization_id(instance) -> int | None:
    if isinstance(instance, m.Organization):
        return instance.pk
    if hasattr(instance, "organization_id"):
        return instance.organization_id
    if isinstance(instance, m.Precaution):
        # By id: the patient may be going in the same cascade.
        return m.Patient.objects.filter(pk=instance.patient_id).values_list("organization_id", flat=True).first()
    therapist = getattr(instance, "therapist", None)
    return therapist.organization_id if therapist is not None else None


def _changed(sender, instance, update_fields=None, **kwargs) -> None:
    if sender is m.PlanRun and update_fields is not None and set(update_fields) <= PLAN_PROGRESS_FIELDS:
        return  # a running plan's progress, several times a second while it searches: nothing a board shows
    org = _organization_id(instance)
    if org is None:
        return
    keys = [KEY.format(org=org)]
    if sender in FEED_RECORDS:
        keys.append(FEED_ORG_KEY.format(org=org))
    _bump_now_and_on_commit(keys)


def _visit_owners(instance: m.Visit) -> set[tuple[str, int]]:
    # The state this instance was loaded with (Visit.from_db; a visit moved to another therapist leaves their
    # feed too) and now.
    owners = set(getattr(instance, "_feed_owners_loaded", ()))
    owners |= {("therapist", instance.therapist_id), ("facility", instance.facility_id)}
    return {(kind, pk) for kind, pk in owners if pk is not None}


def _visit_changed(sender, instance, **kwargs) -> None:
    _bump_now_and_on_commit(FEED_KEY.format(kind=kind, pk=pk) for kind, pk in _visit_owners(instance))
    # The saved state is now the loaded one: a second move of this instance leaves these owners.
    instance._feed_owners_loaded = (("therapist", instance.therapist_id), ("facility", instance.facility_id))
    _changed(sender, instance)


WATCHED = (
    m.Visit, m.Therapist, m.WeeklyAvailability, m.AvailabilityException, m.TherapistBreak, m.Facility, m.Patient,
    m.Precaution, m.Organization, m.PlanRun,
)
PLAN_PROGRESS_FIELDS = {"progress"}
# What a feed shows besides its own visits: patients' initials, therapists' names, facilities' names and buffers,
# the organisation's slug, name and zone. Not precautions: they stay in the app, out of every calendar.
FEED_RECORDS = (m.Therapist, m.Facility, m.Patient, m.Organization)


def connect() -> None:
    for model in WATCHED:
        handler = _visit_changed if model is m.Visit else _changed
        post_save.connect(handler, sender=model, dispatch_uid=f"schedule-version-save-{model.__name__}")
        post_delete.connect(handler, sender=model, dispatch_uid=f"schedule-version-delete-{model.__name__}")
    m2m_changed.connect(_changed, sender=m.Visit.required_skills.through, dispatch_uid="schedule-version-skills")
