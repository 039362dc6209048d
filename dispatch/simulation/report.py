"""The figures at the end of a run."""

from __future__ import annotations

import math
from collections import Counter
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dispatch.simulation.record import Recorder

TOP_REFUSALS = 15


def percentile(values: list[float], pct: float) -> float:
    """Nearest rank: the value below which pct per cent of the calls fell."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(pct / 100 * len(ordered)) - 1)]


def report_lines(recorder: Recorder, *, days: int, agencies: int, command: str, seconds: float) -> list[str]:
    c = recorder.counters
    lines = [
        f"Simulated {days} days in {agencies} agencies (seed {recorder.seed}): {recorder.step} steps, "
        f"{sum(recorder.requests_by_role.values())} requests, {seconds:.0f} s of real time.",
        "Requests per role: " + ", ".join(f"{role} {n}" for role, n in sorted(recorder.requests_by_role.items())),
        f"Plans: {c['plans run']} run, {c['plans applied']} applied ({c['visits booked by plans']} visits placed), "
        f"{c['stale plans planned again']} planned again "
        f"after a change. Re-plans: {c['re-plans run']} run, {c['re-plans applied']} applied, "
        f"{c['re-plans rejected']} rejected.",
        f"Visits: {c['visits requested']} requested ({c['series requested']} series, {c['idempotent retries']} retried "
        f"with an Idempotency-Key), {c['visits served']} served, {c['never checked in']} never checked in; "
        f"{c['manual reassigns']} reassigned by hand, {c['contraindications recorded']} fevers and "
        f"{c['sick days recorded']} sick days recorded.",
        f"Payer units: {c['authorised units lowered']} authorisations lowered by a coordinator; "
        f"{c['units changes refused to facility staff']} changes by facility staff refused.",
    ]
    causes = [f"{n} {k.removeprefix('re-plans ')}" for k, n in sorted(c.items()) if k.startswith("re-plans after ")]
    if causes:
        lines.append("Re-plans proposed: " + "; ".join(causes) + " (each reviewed by the agency's coordinator).")
    pushed = [f"{n} {k.removeprefix('visits ')}" for k, n in sorted(c.items()) if k.startswith("visits pushed")]
    if pushed:
        lines.append("Pushed: " + "; ".join(pushed) + " (the day as it is; travel and overlaps still checked).")
    unassigned = {k.split(": ", 1)[1]: n for k, n in c.items() if k.startswith("left unassigned: ")}
    if unassigned:
        lines.append(
            "Left unassigned by plans, by reason: "
            + ", ".join(f"{k} {n}" for k, n in sorted(unassigned.items(), key=lambda kv: -kv[1]))
        )
    lines.append(f"Refused requests by reason ({sum(recorder.refusals.values())}):")
    lines += [f"  {n:6d}  {reason}" for reason, n in recorder.refusals.most_common(TOP_REFUSALS)]
    lines.append("Latency per route (calls, p50 ms, p99 ms):")
    routes = sorted(recorder.latency_by_route.items(), key=lambda kv: -len(kv[1]))
    lines += [
        f"  {len(v):6d} {percentile(v, 50) * 1000:8.1f} {percentile(v, 99) * 1000:8.1f}  {route}" for route, v in routes
    ]
    known = Counter(f.known for f in recorder.failures if f.known)
    unknown = [f for f in recorder.failures if not f.known]
    lines.append(
        f"Invariant failures: {len(recorder.failures)} ({len(unknown)} not known; known: "
        + (", ".join(f"{k} x{n}" for k, n in sorted(known.items())) or "none")
        + ")"
    )
    lines += [failure.text(command) for failure in recorder.failures]
    return lines
