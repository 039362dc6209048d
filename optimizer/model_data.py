"""The problem flattened into nodes and integer matrices, computed once per solve.

Nodes ``0..len(visits)-1`` are the modelled visits (in seed order); then each therapist has a
start node and an end node. Travel between two visits with the same ``site_id`` is zero, and
the check-in overhead is paid only on arrival at a new site.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

import numpy as np

from optimizer.options import Options
from optimizer.problem import Location, Problem, Therapist, Visit

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
        """``[i, j]``: the check-in overhead paid at j when coming from i."""
        n = len(self.locations)
        overhead = np.tile(np.array(self.overhead_min, dtype=np.int64), (n, 1))
        same = self._same_site()
        overhead[same] = 0
        return overhead

    def time_matrix(self, speed_kmh: float) -> np.ndarray:
        """Integer transit ``[i, j]`` = service at i + travel (rounded up) + overhead at j."""
        travel = np.ceil(self.travel_min_by_speed[speed_kmh] - 1e-9).astype(np.int64)
        transit = np.array(self.service_min, dtype=np.int64)[:, None] + travel + self.arrival_overhead()
        np.fill_diagonal(transit, 0)
        return transit

    def _same_site(self) -> np.ndarray:
        sites = self.site_ids
        n = len(sites)
        return np.array(
            [[sites[i] is not None and sites[i] == sites[j] for j in range(n)] for i in range(n)], dtype=bool
        )


def build_model_data(problem: Problem, options: Options, visits: list[Visit]) -> ModelData:
    visits = list(visits)
    if options.seed:
        random.Random(options.seed).shuffle(visits)
    therapists = list(problem.therapists)
    locations = [v.location for v in visits]
    site_ids: list[str | None] = [v.site_id for v in visits]
    for t in therapists:
        locations += [t.start, t.end]
        site_ids += [None, None]
    n = len(locations)
    unique = list(dict.fromkeys(locations))
    where = _positions(locations, unique)
    km_u = np.array([[problem.travel.travel_km(a, b) for b in unique] for a in unique], dtype=float).reshape(
        len(unique), len(unique)
    )
    km = km_u[np.ix_(where, where)]
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
    same = data._same_site() if n else np.zeros((0, 0), dtype=bool)
    data.km[same] = 0.0
    for speed in sorted({t.speed_kmh for t in therapists}):
        minutes_u = np.array(
            [[problem.travel.travel_min(a, b, speed) for b in unique] for a in unique], dtype=float
        ).reshape(len(unique), len(unique))
        minutes = minutes_u[np.ix_(where, where)]
        minutes[same] = 0.0
        data.travel_min_by_speed[speed] = minutes
    return data


def _positions(locations: list[Location], unique: list[Location]) -> list[int]:
    index = {loc: i for i, loc in enumerate(unique)}
    return [index[loc] for loc in locations]
