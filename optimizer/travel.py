"""Travel providers: minutes and kilometres between two locations for a therapist's speed.

A provider answers per pair (``travel_km``, ``travel_min``). It may also offer whole matrices
(``km_matrix``, ``minutes_matrix``) over a list of locations; the model builder uses them when
present, so a day of 280 locations costs one vectorised call instead of ~40,000 Python calls.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import numpy as np

if TYPE_CHECKING:
    from optimizer.problem import Location

# WGS-84, as geopy's default ellipsoid.
WGS84_A_KM = 6378.137
WGS84_F = 1 / 298.257223563
FORMULAS = ("lambert", "geopy")
MATRIX_CACHE_SIZE = 8  # location sets memoised per process (a re-plan reuses the day's set)


class TravelProvider(Protocol):
    def travel_km(self, a: Location, b: Location) -> float: ...

    def travel_min(self, a: Location, b: Location, speed_kmh: float) -> float: ...


# Why hand-written: geopy's ``geodesic`` (Karney's algorithm in pure Python) costs ~170 us a pair,
# about 1 s for the 280 x 280 matrix of a 30-therapist, 250-visit day, which alone is half of the
# 2 s re-plan budget. Lambert's formula corrects the spherical central angle (taken between
# reduced latitudes) for the ellipsoid's flattening; its error is of order f^2 (about 1e-5
# relative, metres over hundreds of km), far below the detour factor's uncertainty. It
# vectorises with numpy (~5 ms for the day). tests/optimizer/test_travel.py asserts agreement
# with geopy.geodesic within 0.05 % at city scale and between cities.


def lambert_km(lat1, lon1, lat2, lon2) -> np.ndarray:
    """Ellipsoidal (WGS-84) distance in km by Lambert's formula; numpy arrays broadcast."""
    b1 = np.arctan((1 - WGS84_F) * np.tan(np.radians(lat1)))
    b2 = np.arctan((1 - WGS84_F) * np.tan(np.radians(lat2)))
    dlon = np.radians(np.asarray(lon2) - np.asarray(lon1))
    h = np.sin((b2 - b1) / 2) ** 2 + np.cos(b1) * np.cos(b2) * np.sin(dlon / 2) ** 2
    sigma = 2 * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))
    p, q = (b1 + b2) / 2, (b2 - b1) / 2
    sin_s, half = np.sin(sigma), sigma / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        x = (sigma - sin_s) * np.sin(p) ** 2 * np.cos(q) ** 2 / np.cos(half) ** 2
        y = (sigma + sin_s) * np.cos(p) ** 2 * np.sin(q) ** 2 / np.sin(half) ** 2
    correction = np.where(sigma > 0, x + y, 0.0)
    return WGS84_A_KM * (sigma - WGS84_F / 2 * correction)


def lambert_km_pair(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """``lambert_km`` for one pair in plain ``math`` (a numpy call per pair costs 10x more)."""
    b1 = math.atan((1 - WGS84_F) * math.tan(math.radians(lat1)))
    b2 = math.atan((1 - WGS84_F) * math.tan(math.radians(lat2)))
    dlon = math.radians(lon2 - lon1)
    h = math.sin((b2 - b1) / 2) ** 2 + math.cos(b1) * math.cos(b2) * math.sin(dlon / 2) ** 2
    sigma = 2 * math.asin(math.sqrt(min(max(h, 0.0), 1.0)))
    if sigma == 0:
        return 0.0
    p, q = (b1 + b2) / 2, (b2 - b1) / 2
    sin_s, half = math.sin(sigma), sigma / 2
    x = (sigma - sin_s) * math.sin(p) ** 2 * math.cos(q) ** 2 / math.cos(half) ** 2
    y = (sigma + sin_s) * math.cos(p) ** 2 * math.sin(q) ** 2 / math.sin(half) ** 2
    return WGS84_A_KM * (sigma - WGS84_F / 2 * (x + y))


_matrices: OrderedDict[tuple, np.ndarray] = OrderedDict()
_matrices_lock = threading.Lock()


def _memoised(key: tuple, compute) -> np.ndarray:
    with _matrices_lock:
        if key in _matrices:
            _matrices.move_to_end(key)
            return _matrices[key]
    value = compute()
    value.setflags(write=False)
    with _matrices_lock:
        _matrices[key] = value
        while len(_matrices) > MATRIX_CACHE_SIZE:
            _matrices.popitem(last=False)
    return value


def clear_matrix_cache() -> None:
    """Forget the memoised matrices (benchmarks use it to time a cold build)."""
    with _matrices_lock:
        _matrices.clear()


@dataclass(frozen=True)
class GeodesicTravel:
    """Ellipsoidal distance times a detour factor, driven at the therapist's speed (memoised).

    ``formula="lambert"`` (default) computes distances vectorised by Lambert's formula;
    ``formula="geopy"`` uses ``geopy.distance.geodesic`` per pair, the slow reference. Both
    the per-pair and the matrix methods use the chosen formula, so the model and the checker
    see the same travel.
    """

    detour_factor: float = 1.3
    default_speed_kmh: float = 30.0
    formula: str = "lambert"
    _cache: dict[tuple[Location, Location], float] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.detour_factor < 1.0:
            raise ValueError(f"detour_factor: {self.detour_factor} is below 1.")
        if self.default_speed_kmh <= 0:
            raise ValueError(f"default_speed_kmh: {self.default_speed_kmh} is not positive.")
        if self.formula not in FORMULAS:
            raise ValueError(f"formula: {self.formula!r} is not one of {FORMULAS}.")

    def travel_km(self, a: Location, b: Location) -> float:
        if a == b:
            return 0.0
        key = (a, b) if (a.lat, a.lon) <= (b.lat, b.lon) else (b, a)
        if key not in self._cache:
            p, q = key
            if self.formula == "geopy":
                from geopy.distance import geodesic

                km = geodesic((p.lat, p.lon), (q.lat, q.lon)).km
            else:
                km = lambert_km_pair(p.lat, p.lon, q.lat, q.lon)
            self._cache[key] = km * self.detour_factor
        return self._cache[key]

    def travel_min(self, a: Location, b: Location, speed_kmh: float | None = None) -> float:
        return self.travel_km(a, b) / (speed_kmh or self.default_speed_kmh) * 60.0

    def km_matrix(self, locations: Sequence[Location]) -> np.ndarray:
        """``[i, j]`` = ``travel_km(locations[i], locations[j])``, read-only, memoised per location set."""
        if self.formula == "geopy":
            return np.array([[self.travel_km(a, b) for b in locations] for a in locations], dtype=float).reshape(
                len(locations), len(locations)
            )
        key = ("lambert", self.detour_factor, tuple(locations))
        return _memoised(key, lambda: self._lambert_matrix(locations))

    def minutes_matrix(self, locations: Sequence[Location], speed_kmh: float | None = None) -> np.ndarray:
        """``[i, j]`` = ``travel_min(locations[i], locations[j], speed_kmh)``."""
        return self.km_matrix(locations) / (speed_kmh or self.default_speed_kmh) * 60.0

    def _lambert_matrix(self, locations: Sequence[Location]) -> np.ndarray:
        lat = np.array([loc.lat for loc in locations], dtype=float)
        lon = np.array([loc.lon for loc in locations], dtype=float)
        # Sorted pairs, as in travel_km, so [i, j] and [j, i] are the same float.
        swap = (lat[:, None] > lat[None, :]) | ((lat[:, None] == lat[None, :]) & (lon[:, None] > lon[None, :]))
        lat1 = np.where(swap, lat[None, :], lat[:, None])
        lon1 = np.where(swap, lon[None, :], lon[:, None])
        lat2 = np.where(swap, lat[:, None], lat[None, :])
        lon2 = np.where(swap, lon[:, None], lon[None, :])
        km = lambert_km(lat1, lon1, lat2, lon2) * self.detour_factor
        same = (lat[:, None] == lat[None, :]) & (lon[:, None] == lon[None, :])
        km[same] = 0.0
        return km


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

    def _positions(self, locations: Sequence[Location]) -> list[int]:
        try:
            return [self._index[loc] for loc in locations]
        except KeyError as exc:
            raise ValueError(f"locations: {exc.args[0]} is not in the travel matrix.") from None

    def _lookup(self, matrix: Matrix, a: Location, b: Location) -> float:
        i, j = self._positions((a, b))
        if isinstance(matrix, Mapping):
            return 0.0 if i == j else float(matrix[(i, j)])
        return float(matrix[i][j])

    def _submatrix(self, matrix: Matrix | None, locations: Sequence[Location]) -> np.ndarray:
        where = self._positions(locations)
        if matrix is None:
            return np.zeros((len(where), len(where)))
        if isinstance(matrix, Mapping):
            return np.array(
                [[0.0 if i == j else float(matrix[(i, j)]) for j in where] for i in where], dtype=float
            ).reshape(len(where), len(where))
        return np.asarray(matrix, dtype=float)[np.ix_(where, where)]

    def travel_km(self, a: Location, b: Location) -> float:
        return 0.0 if self.km is None else self._lookup(self.km, a, b)

    def travel_min(self, a: Location, b: Location, speed_kmh: float | None = None) -> float:
        return self._lookup(self.minutes, a, b)

    def km_matrix(self, locations: Sequence[Location]) -> np.ndarray:
        return self._submatrix(self.km, locations)

    def minutes_matrix(self, locations: Sequence[Location], speed_kmh: float | None = None) -> np.ndarray:
        return self._submatrix(self.minutes, locations)
