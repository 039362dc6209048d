"""`make load`: a 500-therapist agency on gunicorn and PostgreSQL, loaded as its users would, figures per route.

Builds a fresh database (rounds_load), grows the demo region into the agency (bench/LOAD_RESULTS.md says
what it holds and what its users send), starts gunicorn with the production settings (throttles as
shipped), and runs bench/load.py in a process of its own: per route the highest rate at which p99 stays
under 100 ms, as a share of /healthz's on the same server in the same run; then the product's mix at the
rate the agency generates, and climbing from there. Prints the figures and a Markdown block for the results.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
PORT = int(os.environ.get("LOAD_PORT", "8766"))
# The server's shape: gthread workers (processes) x threads each; LOAD_WORKERS / LOAD_THREADS to compare shapes.
WORKERS = int(os.environ.get("LOAD_WORKERS", "2"))
THREADS = int(os.environ.get("LOAD_THREADS", "8"))
WARM_UP_S = 30.0  # of the mix before a mix run alone (LOAD_ONLY=mix), unreported
DB_URL = os.environ.get("LOAD_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/rounds_load")
REDIS_URL = os.environ.get("LOAD_REDIS_URL", "redis://127.0.0.1:6379/6")
STEP_S = float(os.environ.get("LOAD_STEP_SECONDS", "6"))
MIX_S = float(os.environ.get("LOAD_MIX_SECONDS", "120"))
# LOAD_ONLY=mix (or a comma list of routes) runs those phases alone: for working on a route, not for the results.

THERAPISTS, FACILITIES, STAFF_PER_FACILITY, COORDINATORS = 500, 100, 3, 20
VISITS_PER_THERAPIST_DAY = 4
POLL_S = 300  # a subscribed calendar asks every 5 minutes (Apple's shortest; Google and Outlook wait hours)
BOARD_RELOAD_S = 60  # an open board reloads every minute (today's by itself, tomorrow's as it is planned)
# Today's reload is two requests (the board's data, revalidated, and the live overlay), tomorrow's one.
BOARD_REQUESTS_PER_RELOAD = 3
WORKDAY_S, PEAK = 9 * 3600, 2.0  # visits happen in a 9-hour day; the busiest hour has twice the mean
LATE_SHARE, FACILITY_REQUEST_SHARE = 0.10, 0.5
P99_GOAL_MIX_MS = 50.0
GOALS = {"feed": 0.50, "schedule": 0.25, "board": 0.25}
# Up to well past what 2 cores serve of /healthz (about 1.2 ms of CPU each): a ladder that /healthz tops would
# make its capacity, and so every share, a guess (the 900/s top of the run of 2026-12-01 was).
LADDER = [5, 7, 10, 14, 20, 28, 40, 56, 80, 110, 160, 220, 320, 450, 640, 900, 1250, 1800, 2500, 3500]


def agency_mix() -> dict[str, float]:
    visits = THERAPISTS * VISITS_PER_THERAPIST_DAY
    peak_visits_per_s = visits / WORKDAY_S * PEAK
    return {
        "feed": (THERAPISTS + FACILITIES * STAFF_PER_FACILITY) / POLL_S,
        "board": COORDINATORS * BOARD_REQUESTS_PER_RELOAD / BOARD_RELOAD_S,
        "schedule": COORDINATORS * 2 / BOARD_RELOAD_S,
        "check_in": peak_visits_per_s,
        "check_out": peak_visits_per_s,
        "late": peak_visits_per_s * LATE_SHARE,
        "request": peak_visits_per_s * FACILITY_REQUEST_SHARE,
    }


def env() -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DJANGO_SECRET_KEY": "load-test-only-not-a-secret-" + "x" * 40,
        "DJANGO_SECURE_SSL_REDIRECT": "false",  # plain HTTP on the loopback, as behind a TLS proxy
        "DATABASE_URL": DB_URL,
        "DJANGO_DEBUG": "false",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DJANGO_LOG_LEVEL": "ERROR",
        # Cache and broker as in production: re-plans a late report asks for queue for the workers (not run here).
        "REDIS_URL": REDIS_URL,
    }


def manage(*args: str) -> str:
    return subprocess.run([PY, "manage.py", *args], cwd=ROOT, env=env(), check=True, capture_output=True, text=True).stdout


def fresh_stores() -> None:
    import psycopg
    import redis

    name = DB_URL.rsplit("/", 1)[1]
    with psycopg.connect(DB_URL.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    redis.Redis.from_url(REDIS_URL).flushdb()


def build_agency(fixture_path: Path) -> None:
    """The agency every figure of bench/ is measured on, in fresh stores; its tokens and visits in fixture_path."""
    fresh_stores()
    manage("migrate", "--noinput")
    manage("seed_demo")
    manage("load_fixture", "--base", f"http://127.0.0.1:{PORT}", "--out", str(fixture_path),
           "--therapists", str(THERAPISTS), "--facilities", str(FACILITIES),
           "--staff-per-facility", str(STAFF_PER_FACILITY), "--coordinators", str(COORDINATORS))


def in_process(*, fresh: bool) -> None:
    """Django set up in this process on the load's stores with its settings, for figures through the test client;
    with fresh, the agency built first."""
    environment = env()
    environment["DJANGO_ALLOWED_HOSTS"] += ",testserver"
    os.environ.update(environment)
    if fresh:
        build_agency(Path(os.devnull))
    import django

    django.setup()


def wait_until_up(url: str, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit("gunicorn exited during start-up")
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            time.sleep(0.3)
    raise SystemExit("gunicorn did not answer within 60 s")


def commit() -> str:
    out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True,
                           text=True).stdout
    return out.strip() + ("+dirty" if dirty.strip() else "")


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def main() -> int:
    mix = agency_mix()
    mix_rate = round(sum(mix.values()), 2)
    started = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    print(f"# {started}, commit {commit()}, {os.cpu_count()} cores; before: {uptime()}", flush=True)
    print(f"# agency: {THERAPISTS} therapists, {FACILITIES} facilities x {STAFF_PER_FACILITY} staff feeds, "
          f"{COORDINATORS} coordinators, {THERAPISTS * VISITS_PER_THERAPIST_DAY} visits a day", flush=True)
    print("# mix (requests/s at the agency's busiest hour): "
          + ", ".join(f"{k} {v:.3f}" for k, v in mix.items()) + f"; total {mix_rate}", flush=True)
    work = Path(tempfile.mkdtemp(prefix="rounds-load-"))
    fixture_path = work / "fixture.json"
    build_agency(fixture_path)
    fixture = json.loads(fixture_path.read_text())
    fixture["mix_per_s"] = mix
    fixture_path.write_text(json.dumps(fixture))
    multiples = [1, 2, 5, 10, 20, 40, 80]
    plan = [
        {"route": "healthz", "capacity": LADDER, "seconds": STEP_S},
        {"route": "feed", "capacity": LADDER, "seconds": STEP_S},
        {"route": "schedule", "capacity": LADDER, "seconds": STEP_S},
        {"route": "board", "capacity": LADDER, "seconds": STEP_S},
        {"route": "mix", "rate": mix_rate, "seconds": MIX_S},
        {"route": "mix", "capacity": [round(mix_rate * k, 1) for k in multiples], "seconds": STEP_S * 2},
        {"route": "healthz", "capacity": LADDER, "seconds": STEP_S},  # again: did the machine change meanwhile?
    ]
    if only := os.environ.get("LOAD_ONLY"):
        plan = [p for p in plan if p["route"] in only.split(",") and ("rate" in p or only != "mix")]
        if only == "mix":
            # In the full run the capacity climbs warm every worker's threads first (connections, caches, imports);
            # alone, the mix's first requests paid for that (a 304 of 866 ms, a late report of 1.5 s with 4 workers).
            plan.insert(0, {"route": "mix", "name": "mix-warm-up", "rate": mix_rate, "seconds": WARM_UP_S})
    (work / "plan.json").write_text(json.dumps(plan))
    server = subprocess.Popen(
        [PY, "-m", "gunicorn", "config.wsgi", "-b", f"127.0.0.1:{PORT}", "-k", "gthread", "-w", str(WORKERS),
         "--threads", str(THREADS), "--log-level", "warning"],
        cwd=ROOT, env=env(),
    )
    rows = []
    try:
        wait_until_up(f"http://127.0.0.1:{PORT}/healthz", server)
        print(f"# gunicorn gthread {WORKERS}x{THREADS} on 127.0.0.1:{PORT} (config.settings.production, throttles as shipped); "
              f"the generator is its own process; steps of {STEP_S:.0f} s, the mix {MIX_S:.0f} s", flush=True)
        gen = subprocess.Popen(
            [PY, str(ROOT / "bench" / "load.py"), "--fixture", str(fixture_path), "--plan", str(work / "plan.json"),
             "--server-pid", str(server.pid)],
            stdout=subprocess.PIPE, text=True,
        )
        for line in gen.stdout:
            row = json.loads(line)
            rows.append(row)
            print(line, end="", flush=True)
        if gen.wait() != 0:
            raise SystemExit("the load generator failed")
    finally:
        server.terminate()
        server.wait(timeout=30)
    summary(rows, mix_rate=mix_rate, started=started)
    return 0


def summary(rows: list[dict], *, mix_rate: float, started: str) -> None:
    caps: dict[str, list[dict]] = {}
    for r in rows:
        if "capacity" in r:
            caps.setdefault(r["capacity"], []).append(r)
    health = max((c["rate"] for c in caps.get("healthz", [])), default=0)  # the higher of the two climbs
    if health >= LADDER[-1]:
        print(f"\n/healthz held the top of the ladder ({LADDER[-1]}/s): its capacity is higher, every share an upper bound.")
    at_agency = next((r for r in rows if r.get("phase") == "mix" and r["rate"] == mix_rate), None)
    steps = [r for r in rows if "phase" in r]
    print(f"\n## Run {started}, commit {commit()}, gunicorn gthread {WORKERS}x{THREADS}; after: {uptime()}\n")
    print("| route | highest rate with p99 < 100 ms | share of /healthz | goal | the next step: p99, server CPU, "
          "generator CPU, generator send lag p99 |")
    print("|---|---|---|---|---|")
    for route, found in caps.items():
        worst = min(found, key=lambda c: c["rate"])
        goal = GOALS.get(route)
        share = worst["rate"] / health if health else 0
        met = "" if goal is None else f"≥ {goal:.0%}: {'met' if share >= goal else 'NOT met'}"
        s = worst["stopped_at"]
        print(f"| {route} | {worst['rate']:g}/s | {share:.0%} | {met} | {s['rate']:g}/s: {s['p99_ms']} ms, "
              f"{s['server_cpu_pct']} %, {s['generator_cpu_pct']} %, {s['send_lag_p99_ms']} ms |")
    if at_agency is None:
        return
    routes = ", ".join(f"{k} p99 {v['p99_ms']} ms (n {v['n']}, {v['statuses']})" for k, v in at_agency["routes"].items())
    verdict = "met" if at_agency["p99_ms"] < P99_GOAL_MIX_MS else "NOT met"
    print(f"\nMix at the agency's rate, {mix_rate}/s for {at_agency['seconds']:.0f} s: {at_agency['requests']} requests, "
          f"p50 {at_agency['p50_ms']} ms, p99 {at_agency['p99_ms']} ms (goal < {P99_GOAL_MIX_MS:.0f} ms: {verdict}); "
          f"{routes}.")
    late = ", ".join(f"{r['phase']} {r['rate']:g}/s" for r in steps if r["generator_limited"]) or "none"
    print(f"Generator CPU (one process, of one core): up to {max(r['generator_cpu_pct'] for r in steps)} %; "
          f"server CPU (gunicorn, of {os.cpu_count()} cores x 100 %): up to {max(r['server_cpu_pct'] for r in steps)} %; "
          f"steps where the generator sent late (p99 lag > 10 ms): {late}.")


if __name__ == "__main__":
    raise SystemExit(main())
