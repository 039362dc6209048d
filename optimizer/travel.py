"""Travel providers: minutes and kilometres between two locations for a therapist's speed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from geopy.distance import geodesic

if TYPE_CHECKING:
    from optimizer.problem import Location


class TravelProvider(Protocol):
    def travel_km(self, a: Location, b: Location) -> float: ...

    def travel_min(self, a: Location, b: Location, speed_kmh: float) -> float: ...


@dataclass(frozen=True)
class GeodesicTravel:
    """Geodesic distance times a detour factor, driven at the therapist's speed (memoised)."""

    detour_factor: float = 1.3
    default_speed_kmh: float = 30.0
    _cache: dict[tuple[Location, Location], float] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.detour_factor < 1.0:
            raise ValueError(f"detour_factor: {self.detour_factor} is below 1.")
        if self.default_speed_kmh <= 0:
            raise ValueError(f"default_speed_kmh: {self.default_speed_kmh} is not positive.")

    def travel_km(self, a: Location, b: Location) -> float:
        if a == b:
            return 0.0
        key = (a, b) if (a.lat, a.lon) <= (b.lat, b.lon) else (b, a)
        if key not in self._cache:
            self._cache[key] = geodesic((a.lat, a.lon), (b.lat, b.lon)).km * self.detour_factor
        return self._cache[key]

    def travel_min(self, a: Location, b: Location, speed_kmh: float | None = None) -> float:
        return self.travel_km(a, b) / (speed_kmh or self.default_speed_kmh) * 60.0


Matrix = Sequence[Sequence[float]] | Mapping[tuple[int, int], float]


@dataclass(frozen=True)
class MatrixTravel:
    """Explicit matrices, indexed by the position of a location in ``locations``.

    ``minutes`` and ``km`` are square (nested sequences or numpy arrays) or dicts keyed by
    ``(i, j)``. Minutes are taken as given, whatever the therapist's speed; without ``km`` the
    distance is reported as 0.
    """

    minutes: Matrix
    km: Matrix | None = None
    locations: Sequence[Location] = ()
    _index: dict[Location, int] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.locations:
            raise ValueError("locations: the matrix needs the locations its rows stand for.")
        for i, loc in enumerate(self.locations):
            self._index.setdefault(loc, i)

    def _lookup(self, matrix: Matrix, a: Location, b: Location) -> float:
        try:
            i, j = self._index[a], self._index[b]
        except KeyError as exc:
            raise ValueError(f"locations: {exc.args[0]} is not in the travel matrix.") from None
        if isinstance(matrix, Mapping):
            return 0.0 if i == j else float(matrix[(i, j)])
        return float(matrix[i][j])

    def travel_km(self, a: Location, b: Location) -> float:
        return 0.0 if self.km is None else self._lookup(self.km, a, b)

    def travel_min(self, a: Location, b: Location, speed_kmh: float | None = None) -> float:
        return self._lookup(self.minutes, a, b)
