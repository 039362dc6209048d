"""Travel between stops: geodesic distance by default, an OSRM road matrix when one is configured."""
from __future__ import annotations

import json
import logging
import urllib.request
from collections.abc import Sequence

from django.conf import settings

import optimizer

logger = logging.getLogger(__name__)

OSRM_TIMEOUT_S = 10


def travel_provider(*, locations: Sequence[optimizer.Location]) -> optimizer.TravelProvider:
    if settings.ROUNDS_OSRM_URL and locations:
        try:
            return osrm_matrix(base_url=settings.ROUNDS_OSRM_URL, locations=locations)
        except (OSError, ValueError, KeyError) as exc:
            # A plan on straight-line travel beats no plan; the log says why.
            logger.warning("OSRM matrix unavailable (%s); falling back to geodesic travel.", exc)
    return optimizer.GeodesicTravel(detour_factor=settings.ROUNDS_DETOUR_FACTOR)


def osrm_matrix(*, base_url: str, locations: Sequence[optimizer.Location]) -> optimizer.MatrixTravel:
    """Road durations and distances from OSRM's table service (one request for the whole day)."""
    unique = list(dict.fromkeys(locations))
    coords = ";".join(f"{loc.lon:.6f},{loc.lat:.6f}" for loc in unique)
    url = f"{base_url.rstrip('/')}/table/v1/driving/{coords}?annotations=duration,distance"
    with urllib.request.urlopen(url, timeout=OSRM_TIMEOUT_S) as response:  # noqa: S310 (configured URL)
        body = json.load(response)
    if body.get("code") != "Ok":
        raise ValueError(f"OSRM answered {body.get('code')}: {body.get('message', '')}")
    minutes = [[(s or 0) / 60 for s in row] for row in body["durations"]]
    km = [[(m or 0) / 1000 for m in row] for row in body["distances"]]
    return optimizer.MatrixTravel(minutes=minutes, km=km, locations=tuple(unique))
