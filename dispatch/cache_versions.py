"""Counters that move whenever anything a cached read shows changes.

Cached schedules and board days put in their key the organisation's schedule version (moved by edits to the
records every day shows: therapists, availability, facilities, patients, applied plans, the organisation) and the day's
(moved by every save of a visit on that day), so a change is visible on the next read without anyone having to
know which cached days it touched. A day is assembled from parts, one per therapist (and one for its open
requests), each kept with the version of its own (therapist, day) that saves of the visits it holds or held
move: a check-in makes the next read rebuild that therapist's part only, and tomorrow's days are untouched. A
calendar feed's validator holds the versions it was made under: its owner's (a therapist's or a facility's, moved by changes
to its visits) and the organisation's feed version (moved by edits to the records a feed shows), so a
check-in moves only the feeds that carry the visit and an unchanged feed answers 304 from the cache.

Saves and deletes of the models these reads show bump them (signals: this is cache bookkeeping, not
business logic); QuerySet.update() does not fire signals, so code that changes visits goes through
save(), as the services do.
"""
from __future__ import annotations

import time
from collections.abc import Iterable

from django.core.cache import DEFAULT_CACHE_ALIAS, caches
from django.core.cache import cache
from django.core.cache.backends.redis import RedisCache
from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save

from dispatch import models as m
from dispatch.models.signalling import rows_updated

KEY = "schedule-version:{org}"
DAY_KEY = "schedule-version:{org}:{day}"
PART_KEY = "schedule-version:{org}:{day}:{part}"  # part: a therapist's pk, or OPEN
OPEN = "open"  # the day's requests not booked yet
FEED_KEY = "feed-version:{kind}:{pk}"
FEED_ORG_KEY = "feed-version:org:{org}"
# What a feed secret's entitlement rests on (feed_tokens._holder_may_read: its token, its holder's user, therapist or
# facility, the organisation's zone). A resolved holder is kept in the cache with these two versions as they stood
# before it was read from the database, and believed only while both stand: the organisation's is moved by saves
# and deletes of those rows, the other (every organisation's) by a QuerySet.update() of them, which says which
# model it changed but not which rows (models.signalling.rows_updated).
FEED_ACCESS_KEY = "feed-access:{org}"
FEED_ACCESS_ALL_KEY = "feed-access:all"


def _versions_and(counters: list[str], keys: Iterable[str] = ()) -> tuple[list[int], dict]:
    """The counters' values, and what the cache holds under keys, in one round trip while every counter is set."""
    keys = list(keys)
    found = cache.get_many([*counters, *keys])
    for counter in counters:
        if counter not in found:
            # A fresh start (or an evicted counter) takes a value never used before, so no entry cached under an
            # earlier value of this counter can be served again.
            cache.add(counter, time.time_ns(), timeout=None)
            found[counter] = cache.get(counter)
    return [found[c] for c in counters], {key: found[key] for key in keys if key in found}


def _versions(keys: list[str]) -> list[int]:
    return _versions_and(keys)[0]


def _bump(key: str) -> None:
    try:
        cache.incr(key)
    except ValueError:  # not set yet (or evicted): any new value invalidates
        cache.set(key, time.time_ns(), timeout=None)


def _bump_all(keys: list[str]) -> None:
    """Each counter moved, in one round trip on Redis: SET NX makes a missing (or evicted) one a value never used
    before, INCR moves it. Django's incr() asks EXISTS first, so a check-in's dozen counters, moved now and after
    commit, were some fifty round trips of its time."""
    backend = caches[DEFAULT_CACHE_ALIAS]
    if not isinstance(backend, RedisCache):
        for key in keys:
            _bump(key)
        return
    names = [backend.make_and_validate_key(key) for key in keys]
    pipeline = backend._cache.get_client(names[0], write=True).pipeline(transaction=False)
    fresh = time.time_ns()
    for name in names:
        # Counters are stored as plain integers (RedisSerializer leaves ints unpickled), as cache.get() reads them.
        pipeline.set(name, fresh, nx=True).incr(name)
    pipeline.execute()


def _bump_now_and_on_commit(keys: Iterable[str]) -> None:
    keys = list(keys)
    if not keys:
        return

    def bump() -> None:
        _bump_all(keys)

    # Now, so this transaction reads its own change; and again after commit, so a reader that
    # cached the old state meanwhile (under the first new version) is not believed either.
    bump()
    transaction.on_commit(bump)


def schedule_version(organization_id: int) -> int:
    return _versions([KEY.format(org=organization_id)])[0]


def schedule_versions(*, organization_id: int, day) -> tuple[int, int]:
    """The organisation's version and the day's, in one round trip: a cached day is keyed on both."""
    org, on_day = _versions([KEY.format(org=organization_id), DAY_KEY.format(org=organization_id, day=day)])
    return org, on_day


def part_versions_and(*, organization_id: int, day, parts: list, keys: list[str]) -> tuple[list[int], dict]:
    """Each part's (therapist's, or OPEN) version on day, and what the cache holds under keys, in one round trip."""
    counters = [PART_KEY.format(org=organization_id, day=day, part=part) for part in parts]
    found = cache.get_many([*counters, *keys])
    if missing := {c: time.time_ns() for c in counters if c not in found}:
        # Set, not added (there is no batch add): a value written over one another reader made at the same moment
        # only costs that reader a rebuild, and parts are read from the database after their version is set.
        cache.set_many(missing, timeout=None)
        found.update(missing)
    return [found[c] for c in counters], {key: found[key] for key in keys if key in found}


def schedule_version_bump(organization_id: int | None) -> None:
    if organization_id is not None:
        _bump(KEY.format(org=organization_id))


def feed_version_keys(*, kind: str, pk: int, organization_id: int) -> list[str]:
    """The counters a feed's version and its holder's entitlement are read from (feed_version_and)."""
    return [
        FEED_KEY.format(kind=kind, pk=pk), FEED_ORG_KEY.format(org=organization_id),
        FEED_ACCESS_KEY.format(org=organization_id), FEED_ACCESS_ALL_KEY,
    ]


def feed_version_and(
    *, kind: str, pk: int, organization_id: int, key: str, found: dict | None = None
) -> tuple[str, object, tuple[int, int]]:
    """One feed's version (its owner's and its organisation's), what the cache holds under key, and the feed access
    versions (feed_access_versions), in one round trip: an unchanged feed's poll is answered from these. ``found``:
    what an earlier round trip (the throttle's) fetched; used when it holds every counter, else the round trip sets
    the missing ones, never made up here."""
    counters = feed_version_keys(kind=kind, pk=pk, organization_id=organization_id)
    if found is not None and all(counter in found for counter in counters):
        values = [found[counter] for counter in counters]
    else:
        values, found = _versions_and(counters, [key])
    owner, org, access, access_all = values
    return f"{owner}.{org}", found.get(key), (access, access_all)


def feed_access_versions(organization_id: int) -> tuple[int, int]:
    """The organisation's feed access version and every organisation's, which a cached feed holder is checked
    against."""
    access, access_all = _versions([FEED_ACCESS_KEY.format(org=organization_id), FEED_ACCESS_ALL_KEY])
    return access, access_all


def feed_access_bump_all() -> None:
    """For a change to what feeds' entitlement rests on that no signal tells of (raw SQL, a data migration):
    every cached feed holder is read from the database again on its next poll."""
    _bump_now_and_on_commit([FEED_ACCESS_ALL_KEY])


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


def _plan_changed(sender, instance, update_fields=None, **kwargs) -> None:
    """A plan shows on its own day's board beside the rows (pending, and why each open request is open); only an
    applied one is in the rows (their breaks), and the schedule shows no plan at all. A late report's re-plan
    moved the whole organisation, and so built both days of a 500-therapist agency again."""
    if instance.applied_at is None:
        if update_fields is None or not set(update_fields) <= PLAN_PROGRESS_FIELDS:
            org, day = instance.organization_id, instance.date
            _bump_now_and_on_commit([DAY_KEY.format(org=org, day=day), PART_KEY.format(org=org, day=day, part=OPEN)])
        return
    _changed(sender, instance, update_fields=update_fields)  # applied (rare): its breaks are in every row of its day


def _visit_owners(instance: m.Visit) -> set[tuple[str, int]]:
    # The state this instance was loaded with (Visit.from_db; a visit moved to another therapist leaves their
    # feed too) and now.
    owners = set(getattr(instance, "_feed_owners_loaded", ()))
    owners |= {("therapist", instance.therapist_id), ("facility", instance.facility_id)}
    return {(kind, pk) for kind, pk in owners if pk is not None}


def _visit_day_keys(instance: m.Visit) -> set[str]:
    """The days and parts the visit was on as loaded (Visit.from_db) and is on now: a visit moved to another
    therapist or day leaves their part, and a request leaves the day's open requests when it is booked."""
    keys = set()
    for therapist_id, day, status in filter(None, (getattr(instance, "_day_loaded", None), _day_state(instance))):
        if day is None:
            continue
        org = instance.organization_id
        keys.add(DAY_KEY.format(org=org, day=day))
        if therapist_id is not None:
            keys.add(PART_KEY.format(org=org, day=day, part=therapist_id))
        if status == m.VisitStatus.REQUESTED:
            keys.add(PART_KEY.format(org=org, day=day, part=OPEN))
    return keys


def _day_state(instance: m.Visit) -> tuple:
    return instance.therapist_id, instance.date, instance.status


def _visit_changed(sender, instance, **kwargs) -> None:
    feeds = {FEED_KEY.format(kind=kind, pk=pk) for kind, pk in _visit_owners(instance)}
    _bump_now_and_on_commit(feeds | _visit_day_keys(instance))
    # The saved state is now the loaded one: a second move of this instance leaves these owners.
    instance._feed_owners_loaded = (("therapist", instance.therapist_id), ("facility", instance.facility_id))
    instance._day_loaded = _day_state(instance)


def _skills_changed(sender, instance, **kwargs) -> None:
    if isinstance(instance, m.Visit):
        _bump_now_and_on_commit(_visit_day_keys(instance))
    else:  # a skill's visits, from the skill's side: rare enough to move the whole organisation
        _changed(sender, instance)


WATCHED = (
    m.Visit, m.Therapist, m.WeeklyAvailability, m.AvailabilityException, m.TherapistBreak, m.Facility, m.Patient,
    m.Precaution, m.Organization, m.PlanRun,
)
PLAN_PROGRESS_FIELDS = {"progress"}
# What a feed shows besides its own visits: patients' initials, therapists' names, facilities' names and buffers,
# the organisation's slug, name and zone. Not precautions: they stay in the app, out of every calendar.
FEED_RECORDS = (m.Therapist, m.Facility, m.Patient, m.Organization)


# A sign-in's save of last_login changes no entitlement (and happens at every log-in).
SIGN_IN_FIELDS = {"last_login"}


def _access_changed(sender, instance, update_fields=None, **kwargs) -> None:
    if sender is m.User and update_fields is not None and set(update_fields) <= SIGN_IN_FIELDS:
        return
    if sender is m.FeedToken:
        # Its own cached holder, by its hash: a token saved revoked or deleted (by hand, or with its owner) is not
        # believed again. Made or rotated ones have nothing cached yet.
        from dispatch.services.feed_tokens import feed_holder_forget

        feed_holder_forget(token_hash=instance.token_hash)
        return
    org = _organization_id(instance)
    _bump_now_and_on_commit([FEED_ACCESS_ALL_KEY if org is None else FEED_ACCESS_KEY.format(org=org)])


def _access_rows_updated(sender, **kwargs) -> None:
    feed_access_bump_all()


# The rows feed_tokens._holder_may_read (and the holder's zone) reads; their models' QuerySets send rows_updated.
FEED_ACCESS_RECORDS = (m.User, m.Therapist, m.Facility, m.FeedToken, m.Organization)


def _credential_changed(sender, instance, **kwargs) -> None:
    # An API token saved (its expiry renewed, or edited in the admin) or deleted (revoked, signed out, swept with its
    # user): the copy kept under its digest goes (dispatch.credential_cache).
    from dispatch.credential_cache import credential_forget, credential_key

    credential_forget(credential_key("token", instance.digest))


def connect() -> None:
    from knox.models import get_token_model

    token_model = get_token_model()
    post_save.connect(_credential_changed, sender=token_model, dispatch_uid="credential-token-save")
    post_delete.connect(_credential_changed, sender=token_model, dispatch_uid="credential-token-delete")
    for model in FEED_ACCESS_RECORDS:
        post_save.connect(_access_changed, sender=model, dispatch_uid=f"feed-access-save-{model.__name__}")
        post_delete.connect(_access_changed, sender=model, dispatch_uid=f"feed-access-delete-{model.__name__}")
        rows_updated.connect(_access_rows_updated, sender=model, dispatch_uid=f"feed-access-update-{model.__name__}")
    for model in WATCHED:
        handler = {m.Visit: _visit_changed, m.PlanRun: _plan_changed}.get(model, _changed)
        post_save.connect(handler, sender=model, dispatch_uid=f"schedule-version-save-{model.__name__}")
        post_delete.connect(handler, sender=model, dispatch_uid=f"schedule-version-delete-{model.__name__}")
    m2m_changed.connect(_skills_changed, sender=m.Visit.required_skills.through, dispatch_uid="schedule-version-skills")
