"""Addresses to coordinates through a geopy geocoder: off by default, rate limited, cached in the database."""
from __future__ import annotations

from functools import lru_cache

from django.conf import settings
from geopy.extra.rate_limiter import RateLimiter
from geopy.geocoders import get_geocoder_for_service

from dispatch.exceptions import DispatchError
from dispatch.models import GeocodeCache

GEOCODING_OFF = "Geocoding is not configured; give lat and lon for {address!r}."
NOT_FOUND = "The address {address!r} could not be found; give lat and lon instead."


@lru_cache(maxsize=1)
def _geocode_callable():
    geocoder = get_geocoder_for_service(settings.ROUNDS_GEOCODER)(user_agent=settings.ROUNDS_GEOCODER_USER_AGENT)
    # Public geocoders (Nominatim: one request a second) ban clients that go faster.
    return RateLimiter(geocoder.geocode, min_delay_seconds=settings.ROUNDS_GEOCODER_MIN_DELAY_S, max_retries=1)


def geocode_address(*, address: str, geocode=None) -> tuple[float, float]:
    query = " ".join(address.split()).lower()
    cached = GeocodeCache.objects.filter(query=query).first()
    if cached is None:
        if geocode is None:
            if not settings.ROUNDS_GEOCODER:
                raise DispatchError(GEOCODING_OFF.format(address=address), {"field": "address"})
            geocode = _geocode_callable()
        found = geocode(address)
        cached, _ = GeocodeCache.objects.get_or_create(
            query=query,
            defaults={
                "lat": found.latitude if found else None,
                "lon": found.longitude if found else None,
                "provider": settings.ROUNDS_GEOCODER or "custom",
            },
        )
    if cached.lat is None:
        raise DispatchError(NOT_FOUND.format(address=address), {"field": "address"})
    return cached.lat, cached.lon
