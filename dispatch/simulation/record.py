"""What the run remembers: every request, every failure, the counters the report prints."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

REPLAY_LINES = 14


@dataclass(frozen=True)
class LoggedRequest:
    step: int
    at: dt.datetime
    actor: str
    method: str
    path: str
    body: str
    status: int

    def line(self) -> str:
        body = f" {self.body}" if self.body else ""
        return (
            f"step {self.step} {self.at:%Y-%m-%d %H:%M}Z {self.actor}: {self.method} {self.path}{body} -> {self.status}"
        )


@dataclass
class Failure:
    invariant: str
    message: str
    seed: int
    day: int
    step: int
    at: dt.datetime
    known: str | None  # "issue 11 item 3" when another helper is fixing it
    replay: list[str]

    def text(self, command: str) -> str:
        known = f" [known: {self.known}]" if self.known else ""
        lines = [
            f"INVARIANT FAILED{known}: {self.invariant}: {self.message}",
            f"  seed {self.seed}, day {self.day}, step {self.step}, at {self.at:%Y-%m-%d %H:%M}Z",
            f"  replay: {command} --until-step {self.step}",
            *(f"    {line}" for line in self.replay),
        ]
        return "\n".join(lines)


@dataclass
class Recorder:
    seed: int
    day: int = 0
    step: int = 0
    at: dt.datetime | None = None
    step_label: str = ""
    # The known issue a deliberate probe is about: failures it causes are attributed to it.
    probe: str | None = None
    # When set, only these invariants are the probe's (a step may break others for other reasons).
    probe_invariants: frozenset[str] | None = None
    log: list[LoggedRequest] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    seen: set[tuple] = field(default_factory=set)
    requests_by_role: Counter = field(default_factory=Counter)
    latency_by_route: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    refusals: Counter = field(default_factory=Counter)
    counters: Counter = field(default_factory=Counter)
    # Called with each new failure as it is found (a long run's --progress), besides the report at the end.
    on_failure: Callable[[Failure], None] | None = None
    on_day: Callable[[int, int], None] | None = None  # (day, step) when the run reaches a new day
    furthest_day: int = 0


    def begin_step(self, *, day: int, at: dt.datetime, label: str) -> None:
        self.step += 1
        if day > self.furthest_day:
            self.furthest_day = day
            if self.on_day is not None:
                self.on_day(day, self.step)
        self.day, self.at, self.step_label, self.probe, self.probe_invariants = day, at, label, None, None

    def request(
        self, *, actor: str, role: str, method: str, path: str, data, status: int, route: str, seconds: float
    ) -> None:
        self.requests_by_role[role] += 1
        self.latency_by_route[f"{method} {route}"].append(seconds)
        body = "" if data is None else json.dumps(data, default=str, separators=(",", ":"))[:300]
        self.log.append(LoggedRequest(self.step, self.at, actor, method, path, body, status))

    def fail(
        self, invariant: str, message: str, *, key: tuple | None = None, ids: tuple = (), known: str | None = None
    ) -> None:
        """Record once per key (a broken rule stays broken on the next step; say it the first time)."""
        key = (invariant, *(key or (message,)))
        if key in self.seen:
            return
        self.seen.add(key)
        failure = Failure(
            invariant=invariant,
            message=message,
            seed=self.seed,
            day=self.day,
            step=self.step,
            at=self.at,
            known=known or self.probe_of(invariant),
            replay=self.replay_for(ids),
        )
        self.failures.append(failure)
        if self.on_failure is not None:
            self.on_failure(failure)

    def probe_of(self, invariant: str) -> str | None:
        if self.probe_invariants is not None and invariant not in self.probe_invariants:
            return None
        return self.probe

    def replay_for(self, ids: tuple) -> list[str]:
        """This step's requests and the earlier ones that named the objects involved: the shortest story."""
        numbers = "|".join(str(i) for i in ids if i is not None)
        in_path = re.compile(rf"/({numbers})(/|\?|$)") if numbers else None
        in_body = re.compile(rf"[:\[,]({numbers})[,}}\]]") if numbers else None
        related = [
            r
            for r in self.log
            if r.step == self.step or (in_path is not None and (in_path.search(r.path) or in_body.search(r.body)))
        ]
        return [r.line() for r in related[-REPLAY_LINES:]]
