"""The geocoder the test settings select (``ROUNDS_GEOCODER``): a fixed gazetteer, never the network."""
from __future__ import annotations

from geopy.exc import GeocoderUnavailable
from geopy.geocoders.base import Geocoder
from geopy.location import Location
from geopy.point import Point

QUEENS_PARK = ("100 Queen's Park, Toronto", 43.6677, -79.3948)
# Two King Streets 60 km apart: the lookup cannot tell which one is meant.
KING_ST = [("1 King St W, Toronto", 43.6487, -79.3776), ("1 King St W, Hamilton", 43.2567, -79.8692)]
# One building answered twice (its entrance and its footprint): one place, not an ambiguity.
BAY_ST = [("5 Bay St, Toronto", 43.6420, -79.3770), ("5 Bay St (entrance), Toronto", 43.6421, -79.3772)]
DOWN = "10 Outage Rd"

GAZETTEER: dict[str, list[tuple[str, float, float]]] = {
    QUEENS_PARK[0].lower(): [QUEENS_PARK],
    "1 king st w": KING_ST,
    "5 bay st": BAY_ST,
}


class Gazetteer(Geocoder):
    """Answers the addresses above, nothing else; ``DOWN`` is an outage. ``asked`` records every lookup."""

    asked: list[str] = []

    def __init__(self, *, user_agent: str | None = None) -> None:
        super().__init__(user_agent=user_agent)

    def geocode(self, query: str, *, exactly_one: bool = True, **kwargs) -> Location | list[Location] | None:
        Gazetteer.asked.append(query)
        if query == DOWN:
            raise GeocoderUnavailable("the test gazetteer is down for this address")
        found = [Location(name, Point(lat, lon), {}) for name, lat, lon in GAZETTEER.get(query.lower(), [])]
        if not found:
            return None
        return found[0] if exactly_one else found


class Refusing(Geocoder):
    """For code that must work offline: any lookup is a failure of the test."""

    def __init__(self, *, user_agent: str | None = None) -> None:
        super().__init__(user_agent=user_agent)

    def geocode(self, query: str, **kwargs) -> None:
        raise AssertionError(f"looked up {query!r}, which must work offline")
