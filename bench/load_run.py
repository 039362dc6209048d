"""`make load`: gunicorn on PostgreSQL, schedule reads and feeds at 200 requests/s from this process.

Builds a fresh database (rounds_load), loads and plans the demo region, starts gunicorn on
127.0.0.1, runs bench/load.py against it, prints the figures beside their targets, stops it.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
PORT = int(os.environ.get("LOAD_PORT", "8766"))
DB_URL = os.environ.get("LOAD_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/rounds_load")
RATE = os.environ.get("LOAD_RATE", "200")
SECONDS = os.environ.get("LOAD_SECONDS", "10")
TARGETS_MS = {"schedule": 50.0, "feed_200_events": 20.0, "feed_conditional_304": 20.0}


def env() -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.base",
        "DATABASE_URL": DB_URL,
        "DJANGO_DEBUG": "false",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "ROUNDS_FEED_THROTTLE": "1000000/min",  # the load is the point here, not the throttle
        "ROUNDS_PLAN_IN_PROCESS": "sync",
        "DJANGO_LOG_LEVEL": "WARNING",
        # The rendered-feed cache is shared by the gunicorn workers, as in production.
        "REDIS_URL": os.environ.get("LOAD_REDIS_URL", "redis://127.0.0.1:6379/14"),
    }


def manage(*args: str) -> str:
    return subprocess.run([PY, "manage.py", *args], cwd=ROOT, env=env(), check=True, capture_output=True, text=True).stdout


def fresh_database() -> None:
    import psycopg

    name = DB_URL.rsplit("/", 1)[1]
    with psycopg.connect(DB_URL.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def wait_until_up(url: str, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit("gunicorn exited during start-up")
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.3)
    raise SystemExit("gunicorn did not answer within 60 s")


def main() -> int:
    print("# preparing: fresh PostgreSQL database, demo region, plan, a feed of 200 events", flush=True)
    fresh_database()
    manage("migrate", "--noinput")
    manage("seed_demo")
    manage("plan_day", "--time-limit", "3")
    fixture = json.loads(manage("load_fixture", "--base", f"http://127.0.0.1:{PORT}").strip().splitlines()[-1])
    server = subprocess.Popen(
        [PY, "-m", "gunicorn", "config.wsgi", "-b", f"127.0.0.1:{PORT}", "-k", "gthread", "-w", "2",
         "--threads", "8", "--log-level", "warning"],
        cwd=ROOT, env=env(),
    )
    try:
        wait_until_up(f"http://127.0.0.1:{PORT}/api/schema/", server)
        # Visits only: travel blocks would double the events beyond the 200 the target speaks of.
        fixture["feed_url"] += "?travel=0"
        feed = urllib.request.urlopen(fixture["feed_url"], timeout=10)
        etag = feed.headers["ETag"]
        events = feed.read().count(b"BEGIN:VEVENT")
        auth = f"Authorization: Token {fixture['coordinator_token']}"
        print(f"# gunicorn gthread 2x8 on 127.0.0.1:{PORT}; feed has {events} VEVENTs; {RATE} req/s for {SECONDS} s each")
        out = subprocess.run(
            [PY, str(ROOT / "bench" / "load.py"), "--rate", RATE, "--seconds", SECONDS,
             f"schedule={fixture['schedule_url']}|{auth}",
             f"feed_200_events={fixture['feed_url']}",
             f"feed_conditional_304={fixture['feed_url']}|If-None-Match: {etag}"],
            capture_output=True, text=True, check=True,
        ).stdout
    finally:
        server.terminate()
        server.wait(timeout=30)
    print(out, end="")
    for line in out.splitlines()[1:]:
        name, _, _, p50, p99, *_ = line.split(",")
        print(f"# {name}: p50 {p50} ms, p99 {p99} ms (target p99 < {TARGETS_MS[name]:.0f} ms)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
