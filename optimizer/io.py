"""Problem JSON (see ``problem.schema.json``) to a ``Problem``, with field-path messages."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from optimizer.problem import Break, Location, Priority, Problem, Therapist, TimeWindow, Visit
from optimizer.travel import GeodesicTravel, MatrixTravel, TravelProvider


class ProblemFormatError(ValueError):
    """Malformed problem JSON; the message starts with the path of the field at fault."""


_MISSING = object()


class _Reader:
    """Reads typed fields out of one JSON object, naming ``path.field`` in every error."""

    def __init__(self, obj: Any, path: str) -> None:
        if not isinstance(obj, dict):
            raise ProblemFormatError(f"{path or 'problem'}: expected an object, got {type(obj).__name__}.")
        self.obj, self.path = obj, path

    def at(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def get(self, key: str, kinds: tuple[type, ...], default: Any = _MISSING) -> Any:
        value = self.obj.get(key, default)
        if value is _MISSING:
            raise ProblemFormatError(f"{self.at(key)}: is required.")
        if value is None and default is None:
            return None
        if isinstance(value, bool) and bool not in kinds or not isinstance(value, kinds):
            names = " or ".join(k.__name__ for k in kinds)
            raise ProblemFormatError(f"{self.at(key)}: expected {names}, got {json.dumps(value)}.")
        return value

    def int(self, key: str, default: Any = _MISSING) -> int | None:
        return self.get(key, (int,), default)

    def number(self, key: str, default: Any = _MISSING) -> float | None:
        value = self.get(key, (int, float), default)
        return None if value is None else float(value)

    def str(self, key: str, default: Any = _MISSING) -> str | None:
        return self.get(key, (str,), default)

    def list(self, key: str, default: Any = _MISSING) -> list:
        return self.get(key, (list,), default)

    def strings(self, key: str, default: Any = ()) -> frozenset[str] | None:
        values = self.get(key, (list,), None if default is None else list(default))
        if values is None:
            return None
        for i, v in enumerate(values):
            if not isinstance(v, str):
                raise ProblemFormatError(f"{self.at(key)}[{i}]: expected str, got {json.dumps(v)}.")
        return frozenset(values)

    def build(self, cls: type, **fields: Any) -> Any:
        """Construct ``cls``; its own ``field: message`` errors get this object's path in front."""
        try:
            return cls(**fields)
        except ValueError as exc:
            raise ProblemFormatError(f"{self.path}.{exc}" if self.path else str(exc)) from None


def _location(obj: Any, path: str) -> Location:
    r = _Reader(obj, path)
    return r.build(Location, lat=r.number("lat"), lon=r.number("lon"))


def _break(obj: Any, path: str) -> Break:
    r = _Reader(obj, path)
    return r.build(
        Break,
        earliest_start_min=r.int("earliest_start_min"),
        latest_start_min=r.int("latest_start_min"),
        duration_min=r.int("duration_min"),
    )


def _window(obj: Any, path: str) -> TimeWindow:
    r = _Reader(obj, path)
    return r.build(TimeWindow, start_min=r.int("start_min"), end_min=r.int("end_min"))


def _therapist(obj: Any, path: str) -> Therapist:
    r = _Reader(obj, path)
    return r.build(
        Therapist,
        id=r.str("id"),
        start=_location(r.get("start", (dict,)), r.at("start")),
        end=_location(r.get("end", (dict,), r.obj.get("start")), r.at("end")),
        shift_start_min=r.int("shift_start_min"),
        shift_end_min=r.int("shift_end_min"),
        breaks=tuple(_break(b, f"{r.at('breaks')}[{i}]") for i, b in enumerate(r.list("breaks", []))),
        skills=r.strings("skills"),
        max_visits=r.int("max_visits", None),
        max_working_min=r.int("max_working_min", None),
        speed_kmh=r.number("speed_kmh", 30.0),
        cost_weight=r.number("cost_weight", 1.0),
        capacity=r.int("capacity", None),
    )


PRIORITIES = {p.name.lower(): p for p in Priority}


def _priority(r: _Reader) -> Priority:
    value = r.get("priority", (str, int), "routine")
    if isinstance(value, int) and value in {int(p) for p in Priority}:
        return Priority(value)
    if isinstance(value, str) and value.lower() in PRIORITIES:
        return PRIORITIES[value.lower()]
    raise ProblemFormatError(f"{r.at('priority')}: {json.dumps(value)} is not one of {sorted(PRIORITIES)}.")


def _visit(obj: Any, path: str) -> Visit:
    r = _Reader(obj, path)
    windows = r.list("windows")
    return r.build(
        Visit,
        id=r.str("id"),
        location=_location(r.get("location", (dict,)), r.at("location")),
        duration_min=r.int("duration_min"),
        windows=tuple(_window(w, f"{r.at('windows')}[{i}]") for i, w in enumerate(windows)),
        buffer_min=r.int("buffer_min", 0),
        required_skills=r.strings("required_skills"),
        allowed_therapists=r.strings("allowed_therapists", None),
        forbidden_therapists=r.strings("forbidden_therapists"),
        preferred_therapists=r.strings("preferred_therapists"),
        priority=_priority(r),
        pinned_therapist=r.str("pinned_therapist", None),
        pinned_start_min=r.int("pinned_start_min", None),
        site_id=r.str("site_id", None),
        overhead_min=r.int("overhead_min", 0),
        demand=r.int("demand", 0),
        patient_id=r.str("patient_id", None),
    )


def _travel(obj: Any, path: str) -> TravelProvider:
    r = _Reader(obj, path)
    kind = r.str("kind", "geodesic")
    if kind == "geodesic":
        return r.build(
            GeodesicTravel,
            detour_factor=r.number("detour_factor", 1.3),
            default_speed_kmh=r.number("default_speed_kmh", 30.0),
        )
    if kind == "matrix":
        locations = [_location(x, f"{r.at('locations')}[{i}]") for i, x in enumerate(r.list("locations"))]
        minutes, km = r.list("minutes"), r.list("km", None)
        for name, matrix in (("minutes", minutes), ("km", km)):
            if matrix is not None and (
                len(matrix) != len(locations) or any(len(row) != len(locations) for row in matrix)
            ):
                raise ProblemFormatError(
                    f"{r.at(name)}: must be {len(locations)} x {len(locations)}, one row per location."
                )
        return r.build(MatrixTravel, minutes=minutes, km=km, locations=tuple(locations))
    raise ProblemFormatError(f"{r.at('kind')}: {json.dumps(kind)} is not 'geodesic' or 'matrix'.")


def problem_from_dict(data: Any) -> Problem:
    """Build a ``Problem`` from parsed JSON; raise ``ProblemFormatError`` naming the field."""
    r = _Reader(data, "")
    therapists = tuple(_therapist(t, f"therapists[{i}]") for i, t in enumerate(r.list("therapists")))
    visits = tuple(_visit(v, f"visits[{i}]") for i, v in enumerate(r.list("visits")))
    travel = _travel(r.get("travel", (dict,), {}), "travel")
    return r.build(Problem, therapists=therapists, visits=visits, travel=travel, horizon_min=r.int("horizon_min", 1440))


def load_problem(path: str | Path) -> Problem:
    """Read a problem JSON file; raise ``ProblemFormatError`` for unreadable or malformed input."""
    try:
        data = json.loads(Path(path).read_text())
    except OSError as exc:
        raise ProblemFormatError(f"{path}: cannot be read ({exc.strerror}).") from None
    except json.JSONDecodeError as exc:
        raise ProblemFormatError(
            f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})."
        ) from None
    return problem_from_dict(data)
