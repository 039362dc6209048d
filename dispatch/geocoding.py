"""Addresses to coordinates through a geopy geocoder: off by default, rate limited, cached in the database."""
from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.module_loading import import_string
from geopy.distance import geodesic
from geopy.exc import GeopyError
from geopy.extra.rate_limiter import RateLimiter
from geopy.geocoders import get_geocoder_for_service

from dispatch.models import GeocodeCache

if TYPE_CHECKING:
    from collections.abc import Callable

    from django.db.models import Model

GEOCODING_OFF = "Geocoding is not configured; give lat and lon for {address!r}."
NOT_FOUND = "The address {address!r} could not be found; give lat and lon instead."
AMBIGUOUS = "The address {address!r} matches places {km:.0f} km apart ({candidates}); make it precise or give lat and lon."
UNAVAILABLE = "The geocoder could not look up {address!r} ({error}); try again or give lat and lon."
# Several answers this close together are one place (a building, its entrance, its street); farther apart, we
# would have to guess which home the therapist drives to.
AMBIGUOUS_KM = 1.0


@lru_cache(maxsize=4)
def _geocode_callable(service: str, user_agent: str, min_delay_s: float) -> Callable[..., Any]:
    """``service`` is a geopy service name ("nominatim") or the dotted path of a geopy geocoder class."""
    geocoder_class = import_string(service) if "." in service else get_geocoder_for_service(service)
    geocoder = geocoder_class(user_agent=user_agent)
    # Public geocoders (Nominatim: one request a second) ban clients that go faster. A failed lookup is retried
    # once, then raised: swallowed, it would read (and be remembered) as an address that does not exist.
    return RateLimiter(
        geocoder.geocode, min_delay_seconds=min_delay_s, max_retries=1, error_wait_seconds=5 * min_delay_s,
        swallow_exceptions=False,
    )


def _configured_geocode() -> Callable[..., Any]:
    return _geocode_callable(
        settings.ROUNDS_GEOCODER, settings.ROUNDS_GEOCODER_USER_AGENT, settings.ROUNDS_GEOCODER_MIN_DELAY_S
    )


def geocode_address(*, address: str, field: str = "address") -> tuple[float, float]:
    """The address's coordinates, or a ValidationError on ``field`` saying why there are none.

    Only answers are stored: a refused write rolls back with its request, so a miss would not be kept anyway.
    """
    query = " ".join(address.split()).lower()
    cached = GeocodeCache.objects.filter(query=query, lat__isnull=False).first()
    if cached is not None:
        return cached.lat, cached.lon
    if not settings.ROUNDS_GEOCODER:
        raise ValidationError({field: GEOCODING_OFF.format(address=address)})
    try:
        found = list(_configured_geocode()(address, exactly_one=False) or [])
    except GeopyError as exc:
        raise ValidationError({field: UNAVAILABLE.format(address=address, error=type(exc).__name__)}) from exc
    if not found:
        raise ValidationError({field: NOT_FOUND.format(address=address)})
    first = (found[0].latitude, found[0].longitude)
    farthest = max(geodesic(first, (f.latitude, f.longitude)).km for f in found)
    if farthest > AMBIGUOUS_KM:
        candidates = "; ".join(f.address for f in found[:3])
        raise ValidationError({field: AMBIGUOUS.format(address=address, km=farthest, candidates=candidates)})
    GeocodeCache.objects.update_or_create(
        query=query, defaults={"lat": first[0], "lon": first[1], "provider": settings.ROUNDS_GEOCODER}
    )
    return first


def coordinates_fill(
    *, instance: Model, fields: dict[str, Any], address: str, lat: str, lon: str
) -> dict[str, Any]:
    """``fields`` with the coordinates of the address when the write gives an address but no coordinates.

    An address given with coordinates keeps them; a changed address without coordinates is looked up again,
    so a patient who moves is not visited at the old home.
    """
    if fields.get(lat) is not None or fields.get(lon) is not None:
        return fields
    text = fields.get(address, getattr(instance, address))
    if not text or not text.strip():
        return fields
    changed = address in fields and fields[address] != getattr(instance, address)
    missing = fields.get(lat, getattr(instance, lat)) is None or fields.get(lon, getattr(instance, lon)) is None
    if not (changed or missing):
        return fields
    found_lat, found_lon = geocode_address(address=text, field=address)
    return {**fields, lat: found_lat, lon: found_lon}
