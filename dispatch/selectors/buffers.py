"""Buffers that learn: how far sessions really overrun, per care setting, from check-in/out."""
from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.utils import timezone

from dispatch.models import DEFAULT_BUFFER_MIN, CareSetting, Visit, VisitStatus

if TYPE_CHECKING:
    from dispatch.models import Organization

BUFFER_MIN_SAMPLES = 20
BUFFER_PERCENTILE = 80
BUFFER_MAX_MIN = 60
BUFFER_HISTORY_DAYS = 90


@dataclass(frozen=True)
class BufferSuggestion:
    care_setting: str
    samples: int
    p50: float | None
    p80: float | None
    current_default_min: int
    suggested_min: int


def percentile(values: list[float], pct: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    assert values, "percentile of no values"
    ordered = sorted(values)
    rank = (len(ordered) - 1) * pct / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def buffer_overruns(*, organization: Organization, since: dt.date | None = None) -> dict[str, list[float]]:
    """Minutes each completed session ran past its booked duration (negative: ended early), by care setting."""
    since = since or timezone.localdate() - dt.timedelta(days=BUFFER_HISTORY_DAYS)
    rows = Visit.objects.filter(
        organization=organization,
        status=VisitStatus.COMPLETED,
        date__gte=since,
        actual_start__isnull=False,
        actual_end__isnull=False,
    ).values_list("facility__kind", "actual_start", "actual_end", "duration_min")
    overruns: dict[str, list[float]] = {setting.value: [] for setting in CareSetting}
    for kind, start, end, duration_min in rows:
        overruns[kind or CareSetting.HOME].append((end - start).total_seconds() / 60 - duration_min)
    return overruns


def _suggest(care_setting: str, overruns: list[float]) -> BufferSuggestion:
    default = DEFAULT_BUFFER_MIN[CareSetting(care_setting)]
    p50 = round(percentile(overruns, 50), 1) if overruns else None
    p80 = round(percentile(overruns, BUFFER_PERCENTILE), 1) if overruns else None
    learned = len(overruns) >= BUFFER_MIN_SAMPLES
    suggested = min(max(math.ceil(p80), 0), BUFFER_MAX_MIN) if learned and p80 is not None else default
    return BufferSuggestion(
        care_setting=care_setting,
        samples=len(overruns),
        p50=p50,
        p80=p80,
        current_default_min=default,
        suggested_min=suggested,
    )


def buffer_suggestion_list(*, organization: Organization) -> list[BufferSuggestion]:
    return [_suggest(setting, values) for setting, values in buffer_overruns(organization=organization).items()]


def suggested_buffer_min(organization: Organization, care_setting: str) -> int:
    """The buffer a plan should reserve after a session in ``care_setting`` when nothing more specific is set."""
    return _suggest(care_setting, buffer_overruns(organization=organization)[care_setting]).suggested_min


def suggested_buffer_map(*, organization: Organization) -> dict[str, int]:
    """All care settings at once, for a plan that needs several (one query instead of one per visit)."""
    return {s.care_setting: s.suggested_min for s in buffer_suggestion_list(organization=organization)}
