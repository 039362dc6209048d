"""The input of the optimiser: frozen dataclasses that check their own invariants.

Times are integer minutes from the horizon start (midnight of the plan day, local time).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from enum import IntEnum
from typing import TYPE_CHECKING

from optimizer.travel import GeodesicTravel

if TYPE_CHECKING:
    from optimizer.travel import TravelProvider

MIN_DURATION_MIN = 15
MAX_DURATION_MIN = 90


def _require(ok: bool, message: str) -> None:
    if not ok:
        raise ValueError(message)


def _require_non_negative(**values: int | None) -> None:
    for name, value in values.items():
        _require(value is None or value >= 0, f"{name}: {value} is negative.")


class Priority(IntEnum):
    ROUTINE = 0
    SOON = 1
    URGENT = 2


@dataclass(frozen=True)
class Location:
    lat: float
    lon: float

    def __post_init__(self) -> None:
        _require(-90.0 <= self.lat <= 90.0, f"lat: {self.lat} is outside -90..90.")
        _require(-180.0 <= self.lon <= 180.0, f"lon: {self.lon} is outside -180..180.")


@dataclass(frozen=True)
class TimeWindow:
    """The visit must *start* inside ``[start_min, end_min]`` (as in Solomon and VROOM).

    Both ends are included, so ``end_min == start_min`` is one possible start: an appointment at
    10:00 sharp, or a window exactly as long as the session.
    """

    start_min: int
    end_min: int

    def __post_init__(self) -> None:
        _require_non_negative(start_min=self.start_min)
        _require(
            self.end_min >= self.start_min,
            f"end_min: {self.end_min} is before start_min {self.start_min}.",
        )


@dataclass(frozen=True)
class Break:
    earliest_start_min: int
    latest_start_min: int
    duration_min: int

    def __post_init__(self) -> None:
        _require_non_negative(earliest_start_min=self.earliest_start_min, duration_min=self.duration_min)
        _require(
            self.latest_start_min >= self.earliest_start_min,
            f"latest_start_min: {self.latest_start_min} is before earliest_start_min {self.earliest_start_min}.",
        )


@dataclass(frozen=True)
class Therapist:
    id: str
    start: Location
    end: Location
    shift_start_min: int
    shift_end_min: int
    breaks: tuple[Break, ...] = ()
    skills: frozenset[str] = frozenset()
    max_visits: int | None = None
    max_working_min: int | None = None
    speed_kmh: float = 30.0
    cost_weight: float = 1.0
    capacity: int | None = None
    # A re-plan starts a therapist where they are; at a facility, another visit there costs
    # neither travel nor a second check-in.
    start_site_id: str | None = None

    def __post_init__(self) -> None:
        _require(bool(self.id), "id: must not be empty.")
        _require_non_negative(
            shift_start_min=self.shift_start_min,
            max_visits=self.max_visits,
            max_working_min=self.max_working_min,
            capacity=self.capacity,
        )
        _require(
            self.shift_end_min > self.shift_start_min,
            f"shift_end_min: {self.shift_end_min} is not after shift_start_min {self.shift_start_min}.",
        )
        _require(self.speed_kmh > 0, f"speed_kmh: {self.speed_kmh} is not positive.")
        _require(self.cost_weight >= 0, f"cost_weight: {self.cost_weight} is negative.")


@dataclass(frozen=True)
class Visit:
    """One visit to serve.

    ``current_therapist`` and ``current_start_min`` describe a re-plan's current plan: the visit
    is booked with that therapist at that time, so moving, reassigning or unbooking it costs
    what ``Options`` says (a current therapist missing from the problem, one gone home, makes
    any therapist a reassignment). A day plan leaves them unset.

    ``strict=False`` exists for benchmark instances only. Solomon service times (10 or 90) and
    fractional distances do not fit the product's 15..90 minute sessions; the benchmark loader
    scales Solomon time by 100 into integer minutes (so the very same model and checker serve it)
    and skips only the duration range check. The JSON loader and the Django adapter never pass it.
    """

    id: str
    location: Location
    duration_min: int
    windows: tuple[TimeWindow, ...]
    buffer_min: int = 0
    required_skills: frozenset[str] = frozenset()
    allowed_therapists: frozenset[str] | None = None
    forbidden_therapists: frozenset[str] = frozenset()
    preferred_therapists: frozenset[str] = frozenset()
    priority: Priority = Priority.ROUTINE
    pinned_therapist: str | None = None
    pinned_start_min: int | None = None
    site_id: str | None = None
    overhead_min: int = 0
    demand: int = 0
    strict: bool = field(default=True, repr=False, compare=False)
    current_therapist: str | None = None
    current_start_min: int | None = None
    # One patient is in one session at a time, whoever the therapist: two visits with the same
    # patient_id may not overlap (the manual booking's rule, ``patient_overlapping``).
    patient_id: str | None = None

    def __post_init__(self) -> None:
        _require(bool(self.id), "id: must not be empty.")
        if self.strict:
            _require(
                MIN_DURATION_MIN <= self.duration_min <= MAX_DURATION_MIN,
                f"duration_min: {self.duration_min} is outside {MIN_DURATION_MIN}..{MAX_DURATION_MIN}.",
            )
        _require_non_negative(
            duration_min=self.duration_min,
            buffer_min=self.buffer_min,
            overhead_min=self.overhead_min,
            demand=self.demand,
            pinned_start_min=self.pinned_start_min,
            current_start_min=self.current_start_min,
        )
        _require(
            self.current_start_min is None or self.current_therapist is not None,
            "current_start_min: a current start needs a current_therapist.",
        )
        _require(len(self.windows) >= 1, "windows: at least one window is needed.")
        ordered = sorted(self.windows, key=lambda w: w.start_min)
        for a, b in zip(ordered, ordered[1:], strict=False):
            _require(b.start_min >= a.end_min, f"windows: {a} and {b} overlap.")
        if self.pinned_start_min is not None:
            _require(
                any(w.start_min <= self.pinned_start_min <= w.end_min for w in self.windows),
                f"pinned_start_min: {self.pinned_start_min} lies outside every window.",
            )

    @property
    def booked(self) -> bool:
        """Whether the current plan has this visit with a therapist (a re-plan pays to change it)."""
        return self.current_therapist is not None

    def eligible(self, therapist: Therapist) -> bool:
        """Whether skills, allowed/forbidden lists and pinning let ``therapist`` serve this visit."""
        return (
            self.required_skills <= therapist.skills
            and (self.allowed_therapists is None or therapist.id in self.allowed_therapists)
            and therapist.id not in self.forbidden_therapists
            and (self.pinned_therapist is None or therapist.id == self.pinned_therapist)
        )


@dataclass(frozen=True)
class Problem:
    therapists: tuple[Therapist, ...]
    visits: tuple[Visit, ...]
    travel: TravelProvider = field(default_factory=GeodesicTravel)
    horizon_min: int = 24 * 60

    def __post_init__(self) -> None:
        for name, items in (("therapists", self.therapists), ("visits", self.visits)):
            repeated = sorted(k for k, n in Counter(i.id for i in items).items() if n > 1)
            _require(not repeated, f"{name}: id {repeated[0] if repeated else ''!r} is used twice.")
        known = {t.id for t in self.therapists}
        for i, v in enumerate(self.visits):
            for name in ("allowed_therapists", "forbidden_therapists", "preferred_therapists"):
                unknown = sorted((getattr(v, name) or frozenset()) - known)
                _require(not unknown, f"visits[{i}].{name}: unknown therapist id {unknown[0] if unknown else ''!r}.")
            _require(
                v.pinned_therapist is None or v.pinned_therapist in known,
                f"visits[{i}].pinned_therapist: unknown therapist id {v.pinned_therapist!r}.",
            )
            _require(
                all(w.end_min <= self.horizon_min for w in v.windows),
                f"visits[{i}].windows: a window ends after horizon_min {self.horizon_min}.",
            )
        for i, t in enumerate(self.therapists):
            _require(
                t.shift_end_min <= self.horizon_min,
                f"therapists[{i}].shift_end_min: {t.shift_end_min} is after horizon_min {self.horizon_min}.",
            )
