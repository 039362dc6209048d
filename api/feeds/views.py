"""The subscription feeds: the secret in the URL is the credential, so no session or token auth runs here."""

from __future__ import annotations

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny
from rest_framework.views import APIView

from api.exception_handlers import non_atomic_exception_handler
from api.feeds.http import calendar_etag, calendar_not_modified, calendar_response
from api.feeds.renderers import CalendarOnlyNegotiation, ICalendarRenderer
from api.throttling import FixedWindowRateThrottle
from dispatch.cache_versions import feed_version_and, feed_version_keys
from dispatch.feeds import Audience, calendar_build
from dispatch.models import Facility, Therapist
from dispatch.selectors.feeds import feed_last_modified, feed_visit_list
from dispatch.services.feed_tokens import (
    feed_holder_kept,
    feed_holder_key,
    feed_token_hash,
    feed_token_resolve_and_keep,
)

FEED_CACHE_S = 3600  # the key moves on every change; this only bounds what an idle feed holds
TRAVEL_OFF = frozenset({"0", "false", "no", "off"})
# Whose feed a secret opens, as this process last saw it: (kind, token hash) -> (owner pk, organisation pk). A
# secret never changes hands, so knowing it lets the throttle's round trip fetch the feed's versions and validator
# too, and an unchanged feed's 304 costs one round trip instead of two. It names, it does not entitle: the holder is
# still read from the cache with the access versions, and a poll whose holder differs takes the two round trips.
_OWNERS: dict[tuple[str, str], tuple[int, int]] = {}
OWNERS_KEPT = 50_000  # about 10 MB at most; a 500-therapist agency has about 600 feeds


def _travel(request) -> bool:
    return request.query_params.get("travel", "1").lower() not in TRAVEL_OFF


def _feed_base(kind: str, owner_id: int, travel: bool) -> str:
    return f"feed:{kind}:{owner_id}:{int(travel)}"


class FeedRateThrottle(FixedWindowRateThrottle):
    """Per feed, keyed on the token's hash (the secret itself never reaches the cache)."""

    scope = "feed"

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": feed_token_hash(view.kwargs["token"])}

    def also_get(self, request, view) -> list[str]:
        # The cached holder, in the counter's round trip; with the feed's counters and validator when this process
        # knows whose feed the secret opens.
        token = view.kwargs["token"]
        keys = [feed_holder_key(token)]
        owner = _OWNERS.get((view.owner_field, feed_token_hash(token)))
        if owner is not None:
            owner_id, organization_id = owner
            keys += feed_version_keys(kind=view.owner_field, pk=owner_id, organization_id=organization_id)
            keys.append(f"{_feed_base(view.owner_field, owner_id, _travel(request))}:validator")
        return keys


class _FeedApi(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [FeedRateThrottle]
    renderer_classes = [ICalendarRenderer]
    content_negotiation_class = CalendarOnlyNegotiation
    owner_field: str
    owner_model: type[Therapist] | type[Facility]

    @classmethod
    def as_view(cls, **initkwargs):
        # A poll only reads (its throttle counts in the cache): no transaction, whose BEGIN and COMMIT would be two
        # of the few round trips an unchanged feed's 304 costs.
        return transaction.non_atomic_requests(super().as_view(**initkwargs))

    def get_exception_handler(self):
        return non_atomic_exception_handler

    @extend_schema(
        auth=[],
        parameters=[OpenApiParameter(
                "travel",
                str,
                description="Therapist feeds show a Travel block before each visit; 0 (or false) leaves them out.",
            )],
        responses={(200, "text/calendar"): OpenApiTypes.STR, 304: None, 404: None, 429: None},
    )
    def get(self, request, token: str):
        # The holder a secret opens is kept in the cache (fetched with the throttle's counter) and believed while the
        # feed access versions it was read under stand (fetched with the feed's own versions below): a poll of an
        # unchanged feed then reads no table. A revoked token's entry is deleted; anything its holder's entitlement
        # rests on (user, therapist, facility, organisation), saved or bulk-updated, moves a version.
        found = getattr(self, "throttle_found", None)
        key = feed_holder_key(token)
        cached = feed_holder_kept(found.get(key) if found is not None else cache.get(key))
        holder, seen = cached if cached is not None else (feed_token_resolve_and_keep(token=token), None)
        if holder is None or holder.kind != self.owner_field:
            raise NotFound()
        now = timezone.now()
        travel = _travel(request)
        # Calendar clients poll every few minutes and almost always ask "changed?": that answer comes from a
        # small cached validator (ETag and Last-Modified) without reading the visits, the body or even the owner's
        # row. Its key moves with every change to the feed's visits, to the records it shows, and with every local
        # midnight.
        today = timezone.localdate(now, holder.tz).isoformat()
        base = _feed_base(self.owner_field, holder.owner_id, travel)
        version, validator, access = feed_version_and(
            kind=self.owner_field, pk=holder.owner_id, organization_id=holder.organization_id, key=f"{base}:validator",
            found=found,
        )
        self._know_owner(token, holder)
        if cached is not None and access != seen:
            holder = feed_token_resolve_and_keep(token=token, organization_id=holder.organization_id)
            if holder is None or holder.kind != self.owner_field:
                raise NotFound()
            if holder.organization_id != cached[0].organization_id or holder.owner_id != cached[0].owner_id:
                raise NotFound()  # moved meanwhile (never in practice): the next poll starts afresh
        if validator is not None and (validator["version"], validator["day"]) != (version, today):
            validator = None  # made before a change, or on another day
        if validator is not None:
            not_modified = calendar_not_modified(request, etag=validator["etag"], last_modified=validator["at"])
            if not_modified is not None:
                return not_modified
        owner = self.owner_model.objects.select_related("organization").get(pk=holder.owner_id)
        owner_kw = {self.owner_field: owner}
        body_key = f"{base}:{today}:{version}:body"
        fresh = {}
        body = cache.get(body_key)
        if body is None:
            name = owner.display_name if self.owner_field == "therapist" else owner.name
            body = fresh[body_key] = calendar_build(
                organization=owner.organization,
                name=f"Rounds — {name}",
                visits=feed_visit_list(**owner_kw, now=now),
                audience=Audience(self.owner_field),
                travel=travel,
                now=now,
            ).to_ical()
        if validator is None:
            validator = {"etag": calendar_etag(body), "at": feed_last_modified(**owner_kw, now=now)}
            fresh[f"{base}:validator"] = {**validator, "version": version, "day": today}
        if fresh:
            cache.set_many(fresh, FEED_CACHE_S)
        return calendar_response(
            request,
            body,
            filename=f"rounds-{owner.organization.slug}-{self.owner_field}-{owner.pk}.ics",
            last_modified=validator["at"],
        )


    def _know_owner(self, token: str, holder) -> None:
        if len(_OWNERS) >= OWNERS_KEPT:
            _OWNERS.clear()  # rare and cheap: each feed's next poll takes two round trips once
        _OWNERS[(self.owner_field, feed_token_hash(token))] = (holder.owner_id, holder.organization_id)


class TherapistFeedApi(_FeedApi):
    owner_field = "therapist"
    owner_model = Therapist


class FacilityFeedApi(_FeedApi):
    owner_field = "facility"
    owner_model = Facility
