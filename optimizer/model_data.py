"""The problem flattened into nodes and integer matrices, computed once per solve.

Nodes ``0..len(visits)-1`` are the modelled visits (in seed order); then each therapist has a
start node and an end node. Travel between two visits with the same ``site_id`` is zero, and
the check-in overhead is paid only on arrival at a new site.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

import numpy as np

from optimizer.options import Options
from optimizer.problem import Location, Problem, Therapist, Visit
from optimizer.travel import TravelProvider

COST_SCALE = 100  # the objective counts hundredths of a travel minute


def ceil_min(minutes: float) -> int:
    """Round travel up so a plan that fits the integer model fits the real times too."""
    return math.ceil(minutes - 1e-9)


@dataclass
class ModelData:
    problem: Problem
    options: Options
    visits: list[Visit]  # modelled visits, node i is visits[i]
    therapists: list[Therapist]
    locations: list[Location]
    site_ids: list[str | None]
    service_min: list[int]  # duration + buffer at a visit node, 0 at start/end nodes
    overhead_min: list[int]
    km: np.ndarray
    travel_min_by_speed: dict[float, np.ndarray]  # float minutes, same-site legs already zero
    _same: np.ndarray | None = field(default=None, repr=False)
    _overhead: np.ndarray | None = field(default=None, repr=False)

    @property
    def n_visits(self) -> int:
        return len(self.visits)

    def start_node(self, vehicle: int) -> int:
        return self.n_visits + 2 * vehicle

    def end_node(self, vehicle: int) -> int:
        return self.n_visits + 2 * vehicle + 1

    def travel_min(self, vehicle: int) -> np.ndarray:
        return self.travel_min_by_speed[self.therapists[vehicle].speed_kmh]

    def arrival_overhead(self) -> np.ndarray:
        """``[i, j]``: the check-in overhead paid at j when coming from i (computed once)."""
        if self._overhead is None:
            n = len(self.locations)
            overhead = np.tile(np.array(self.overhead_min, dtype=np.int64), (n, 1))
            overhead[self._same_site()] = 0
            self._overhead = overhead
        return self._overhead

    def time_matrix(self, speed_kmh: float) -> np.ndarray:
        """Integer transit ``[i, j]`` = service at i + travel (rounded up) + overhead at j."""
        travel = np.ceil(self.travel_min_by_speed[speed_kmh] - 1e-9).astype(np.int64)
        transit = np.array(self.service_min, dtype=np.int64)[:, None] + travel + self.arrival_overhead()
        np.fill_diagonal(transit, 0)
        return transit

    def _same_site(self) -> np.ndarray:
        """``[i, j]``: both nodes are visits at one site (vectorised: one code per site, -1 for none)."""
        if self._same is None:
            codes: dict[str, int] = {}
            site = np.array(
                [-1 if s is None else codes.setdefault(s, len(codes)) for s in self.site_ids], dtype=np.int64
            )
            self._same = (site[:, None] == site[None, :]) & (site[:, None] >= 0)
        return self._same


def build_model_data(problem: Problem, options: Options, visits: list[Visit]) -> ModelData:
    visits = list(visits)
    if options.seed:
        random.Random(options.seed).shuffle(visits)
    therapists = list(problem.therapists)
    locations = [v.location for v in visits]
    site_ids: list[str | None] = [v.site_id for v in visits]
    for t in therapists:
        locations += [t.start, t.end]
        site_ids += [t.start_site_id, None]
    unique = list(dict.fromkeys(locations))
    where = _positions(locations, unique)
    km = km_matrix(problem.travel, unique)[np.ix_(where, where)]  # fancy indexing copies
    data = ModelData(
        problem=problem,
        options=options,
        visits=visits,
        therapists=therapists,
        locations=locations,
        site_ids=site_ids,
        service_min=[v.duration_min + v.buffer_min for v in visits] + [0] * (2 * len(therapists)),
        overhead_min=[v.overhead_min for v in visits] + [0] * (2 * len(therapists)),
        km=km,
        travel_min_by_speed={},
    )
    same = data._same_site()
    data.km[same] = 0.0
    for speed in sorted({t.speed_kmh for t in therapists}):
        minutes = minutes_matrix(problem.travel, unique, speed)[np.ix_(where, where)]
        minutes[same] = 0.0
        data.travel_min_by_speed[speed] = minutes
    return data


def km_matrix(travel: TravelProvider, locations: list[Location]) -> np.ndarray:
    """The provider's vectorised matrix when it has one, else one call per pair."""
    if hasattr(travel, "km_matrix"):
        return np.asarray(travel.km_matrix(locations), dtype=float)
    n = len(locations)
    return np.array([[travel.travel_km(a, b) for b in locations] for a in locations], dtype=float).reshape(n, n)


def minutes_matrix(travel: TravelProvider, locations: list[Location], speed_kmh: float) -> np.ndarray:
    if hasattr(travel, "minutes_matrix"):
        return np.asarray(travel.minutes_matrix(locations, speed_kmh), dtype=float)
    n = len(locations)
    return np.array(
        [[travel.travel_min(a, b, speed_kmh) for b in locations] for a in locations], dtype=float
    ).reshape(n, n)


def _positions(locations: list[Location], unique: list[Location]) -> list[int]:
    index = {loc: i for i, loc in enumerate(unique)}
    return [index[loc] for loc in locations]
