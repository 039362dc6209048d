"""Open-loop HTTP load at fixed arrival rates, in its own process, timed from when each request was due.

Written by hand because the load must follow a schedule and be timed from the moment each request was
due, so a slow server cannot hide its queueing (coordinated omission); wrk holds connections busy
instead of a rate, and Locust would add a large dependency for a few dozen lines.

    python bench/load.py --fixture fixture.json --server-pid PID --plan plan.json

The plan is a list of phases: {"route": NAME, "rate": R, "seconds": S} (and "name", to report it otherwise) runs one route (or "mix") at R
requests/s; {"route": NAME, "capacity": [r1, r2, ...], "seconds": S} climbs the rates until p99 reaches
the limit or requests fail, and reports the highest rate that held. One JSON line per step goes to
stdout, with the generator's own CPU use and how late it sent (when it, not the server, was the limit).
"""
from __future__ import annotations

import argparse
import collections
import http.client
import itertools
import json
import os
import queue
import random
import resource
import statistics
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field

P99_LIMIT_MS = 100.0
# Sending later than this at p99 means the generator could not keep the schedule: its figures are its own.
LAG_LIMIT_MS = 10.0


@dataclass
class Request:
    route: str
    method: str
    path: str
    headers: dict[str, str]
    body: bytes | None = None
    ok: tuple[int, ...] = (200,)
    on_answer: object = None  # callable(status, headers) for what the next request of its kind needs


@dataclass
class Step:
    latencies_ms: dict[str, list[float]] = field(default_factory=lambda: collections.defaultdict(list))
    statuses: dict[str, collections.Counter] = field(default_factory=lambda: collections.defaultdict(collections.Counter))
    lags_ms: list[float] = field(default_factory=list)
    slowest: dict[str, tuple[float, str, int]] = field(default_factory=dict)  # route: (ms, path, status)
    errors: int = 0


class Traffic:
    """What each kind of user sends, from the fixture's tokens, sessions and visits."""

    def __init__(self, fixture: dict) -> None:
        self.f = fixture
        self.lock = threading.Lock()
        feeds = [t["feed"] for t in fixture["therapists"]] + [s["feed"] for s in fixture["staff"]]
        random.Random(1).shuffle(feeds)
        self.feeds = feeds
        self.etags: dict[str, str] = {}
        self.feed_cycle = itertools.cycle(feeds)
        self.coordinators = itertools.cycle(fixture["coordinators"])
        self.days = itertools.cycle([fixture["today"], fixture["tomorrow"]])
        today, tomorrow = fixture["today"], fixture["tomorrow"]
        self.board_paths = itertools.cycle(
            [f"/board/data?date={today}", f"/board/live?date={today}", f"/board/data?date={tomorrow}"]
        )
        self.check_ins = collections.deque(
            (t["token"], v) for t in fixture["therapists"] for v in t["check_in"]
        )
        random.Random(2).shuffle(self.check_ins)
        self.checked_in: collections.deque = collections.deque()
        self.late = collections.deque((t["token"], v) for t in fixture["therapists"] for v in t["late"])
        self.staff = itertools.cycle([s for s in fixture["staff"] if s["patients"]])
        self.rng = random.Random(3)

    def _path(self, url: str) -> str:
        parts = urllib.parse.urlsplit(url)
        return parts.path + (f"?{parts.query}" if parts.query else "")

    def healthz(self) -> Request:
        return Request("healthz", "GET", "/healthz", {})

    def _revalidating(self, key) -> tuple[dict, Callable]:
        """If-None-Match with the ETag the client last got for key (none at first), and what keeps the next one.
        Called with self.lock held."""
        etag = self.etags.get(key)

        def remember(status: int, headers) -> None:
            if status == 200 and headers.get("ETag"):
                with self.lock:
                    self.etags[key] = headers["ETag"]

        return ({"If-None-Match": etag} if etag else {}), remember

    def feed(self) -> Request:
        """The next token in the round: each is polled once per len(feeds)/rate seconds, with its last ETag."""
        with self.lock:
            url = next(self.feed_cycle)
            headers, remember = self._revalidating(url)
        return Request("feed", "GET", self._path(url), headers, ok=(200, 304), on_answer=remember)

    def schedule(self) -> Request:
        """A coordinator's tool reading today's or tomorrow's schedule, revalidated with the ETag it last got for
        that day (a 304 until something on it changes)."""
        with self.lock:
            c, day = next(self.coordinators), next(self.days)
            revalidate, remember = self._revalidating((c["token"], day))
        headers = {"Authorization": f"Token {c['token']}", **revalidate}
        return Request("schedule", "GET", f"/api/v1/schedule?date={day}", headers, ok=(200, 304), on_answer=remember)

    def board(self) -> Request:
        """As an open board reloads (board.js): the board's data revalidated (a 304 until something on it changes),
        and for today the live overlay as well (late and at-risk marks, new each minute, a 304 within it)."""
        with self.lock:
            c, path = next(self.coordinators), next(self.board_paths)
            revalidate, remember = self._revalidating((c["session"], path))
        headers = {"Cookie": f"sessionid={c['session']}", **revalidate}
        route = "board_live" if path.startswith("/board/live") else "board"
        return Request(route, "GET", path, headers, ok=(200, 304), on_answer=remember)

    def _post(self, route: str, path: str, token: str, body: dict, ok=(200,), on_answer=None) -> Request:
        return Request(route, "POST", path, {"Authorization": f"Token {token}", "Content-Type": "application/json"},
                       json.dumps(body).encode(), ok=ok, on_answer=on_answer)

    def check_in(self) -> Request | None:
        with self.lock:
            if not self.check_ins:
                return None
            token, visit = self.check_ins.popleft()

        def done(status: int, headers) -> None:
            if status == 200:
                with self.lock:
                    self.checked_in.append((token, visit))

        return self._post("check_in", f"/api/v1/visits/{visit}/check-in", token, {}, on_answer=done)

    def check_out(self) -> Request | None:
        with self.lock:
            if not self.checked_in:
                return None
            token, visit = self.checked_in.popleft()
        return self._post("check_out", f"/api/v1/visits/{visit}/check-out", token, {})

    def late_report(self) -> Request | None:
        with self.lock:
            if not self.late:
                return None
            token, visit = self.late.popleft()
        return self._post("late", f"/api/v1/visits/{visit}/late", token, {"minutes": 15})

    def facility_request(self) -> Request:
        with self.lock:
            staff = next(self.staff)
            patient = self.rng.choice(staff["patients"])
        day = self.f["tomorrow"]
        offset = self.f.get("utc_offset", "-05:00")
        body = {"patient": patient, "date": day, "duration_min": 45, "priority": "routine",
                "windows": [{"start": f"{day}T10:00:00{offset}", "end": f"{day}T15:00:00{offset}"}]}
        return self._post("request", "/api/v1/visits", staff["token"], body, ok=(201,))


def mix_weights(fixture: dict) -> dict[str, float]:
    """Requests per second of one agency of the fixture's size (see bench/LOAD_RESULTS.md for the reasoning)."""
    return dict(fixture["mix_per_s"])


class Generator:
    def __init__(self, base: str, traffic: Traffic, workers: int) -> None:
        parts = urllib.parse.urlsplit(base)
        self.host, self.port = parts.hostname, parts.port
        self.traffic = traffic
        self.workers = workers

    def _send(self, conn: http.client.HTTPConnection, req: Request):
        conn.request(req.method, req.path, body=req.body, headers=req.headers)
        response = conn.getresponse()
        response.read()
        return response.status, response.headers

    def warm(self, makers, count: int) -> None:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
        for make in itertools.islice(itertools.cycle(makers), count):
            req = make()
            if req is None:
                continue
            status, headers = self._send(conn, req)
            if req.on_answer:
                req.on_answer(status, headers)
        conn.close()

    def run(self, *, choose, rate: float, seconds: float) -> Step:
        step = Step()
        due: queue.Queue = queue.Queue()
        lock = threading.Lock()

        def worker() -> None:
            conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
            while (item := due.get()) is not None:
                when, make = item
                time.sleep(max(0.0, when - time.perf_counter()))
                sent = time.perf_counter()
                req = make()
                if req is None:
                    continue
                try:
                    try:
                        status, headers = self._send(conn, req)
                    except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                        # The server closed a keep-alive connection idle past its timeout (gunicorn's is 2 s):
                        # the request never reached it, so send it again on a new connection.
                        conn.close()
                        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
                        status, headers = self._send(conn, req)
                except (OSError, http.client.HTTPException):
                    conn.close()
                    conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
                    with lock:
                        step.errors += 1
                    continue
                elapsed_ms = (time.perf_counter() - when) * 1000
                if req.on_answer:
                    req.on_answer(status, headers)
                with lock:
                    step.latencies_ms[req.route].append(elapsed_ms)
                    step.statuses[req.route][status if status in req.ok else f"{status}!"] += 1
                    step.lags_ms.append((sent - when) * 1000)
                    if elapsed_ms > step.slowest.get(req.route, (0.0,))[0]:
                        step.slowest[req.route] = (round(elapsed_ms, 1), req.path.split("?")[0][:40], status)
            conn.close()

        threads = [threading.Thread(target=worker, daemon=True) for _ in range(self.workers)]
        for t in threads:
            t.start()
        start = time.perf_counter() + 0.2
        rng = random.Random(int(rate * 1000))
        t = 0.0
        # Poisson arrivals: users do not coordinate, and bursts are what queues are made of.
        while t < seconds:
            due.put((start + t, choose()))
            t += rng.expovariate(rate)
        for _ in threads:
            due.put(None)
        for th in threads:
            th.join()
        return step


def percentile(values: list[float], q: int) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def process_tree_cpu_s(pid: int) -> float:
    """User and system CPU of a process and its children (gunicorn's master and workers), from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
            with open(f"/proc/{p}/task/{p}/children") as f:
                todo.extend(int(c) for c in f.read().split())
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


def measure(gen: Generator, *, name: str, choose, rate: float, seconds: float, server_pid: int) -> dict:
    cpu0, srv0, wall0, load0 = cpu_s(), process_tree_cpu_s(server_pid), time.perf_counter(), os.getloadavg()[0]
    step = gen.run(choose=choose, rate=rate, seconds=seconds)
    wall = time.perf_counter() - wall0
    all_ms = [x for v in step.latencies_ms.values() for x in v]
    lag_p99 = percentile(step.lags_ms, 99)
    bad = sum(n for c in step.statuses.values() for s, n in c.items() if isinstance(s, str)) + step.errors
    row = {
        "phase": name, "rate": rate, "seconds": seconds, "requests": len(all_ms),
        "p50_ms": round(percentile(all_ms, 50), 1), "p99_ms": round(percentile(all_ms, 99), 1),
        "max_ms": round(max(all_ms), 1) if all_ms else None, "bad": bad,
        "routes": {
            r: {"n": len(v), "p50_ms": round(percentile(v, 50), 1), "p99_ms": round(percentile(v, 99), 1),
                "statuses": {str(k): n for k, n in sorted(step.statuses[r].items(), key=str)},
                "slowest": step.slowest.get(r)}
            for r, v in sorted(step.latencies_ms.items())
        },
        "generator_cpu_pct": round(100 * (cpu_s() - cpu0) / wall),
        "server_cpu_pct": round(100 * (process_tree_cpu_s(server_pid) - srv0) / wall),
        "send_lag_p99_ms": round(lag_p99, 1),
        "generator_limited": lag_p99 > LAG_LIMIT_MS,
        "loadavg_1m": [round(load0, 2), round(os.getloadavg()[0], 2)],
    }
    print(json.dumps(row), flush=True)
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fixture", required=True)
    parser.add_argument("--plan", required=True, help="JSON list of phases")
    parser.add_argument("--server-pid", type=int, required=True)
    parser.add_argument("--workers", type=int, default=64, help="concurrent connections")
    args = parser.parse_args()
    with open(args.fixture) as f:
        fixture = json.load(f)
    traffic = Traffic(fixture)
    gen = Generator(fixture["base"], traffic, args.workers)
    single = {
        "healthz": traffic.healthz, "feed": traffic.feed, "schedule": traffic.schedule, "board": traffic.board,
    }
    weights = mix_weights(fixture)
    makers = {
        "feed": traffic.feed, "schedule": traffic.schedule, "board": traffic.board, "check_in": traffic.check_in,
        "check_out": traffic.check_out, "late": traffic.late_report, "request": traffic.facility_request,
    }
    kinds, shares = list(weights), list(weights.values())
    mix_rng = random.Random(4)

    def mix():
        return makers[mix_rng.choices(kinds, shares)[0]]

    # Untimed: every feed once (the calendars' first subscription, which gives each its ETag), then each read.
    gen.warm([traffic.feed], len(traffic.feeds))
    gen.warm([traffic.schedule, traffic.board, traffic.healthz], 8)
    time.sleep(2)
    with open(args.plan) as f:
        plan = json.load(f)
    for phase in plan:
        route = phase["route"]
        choose = mix if route == "mix" else (lambda make=single[route]: make)
        if "capacity" not in phase:
            measure(gen, name=phase.get("name", route), choose=choose, rate=phase["rate"], seconds=phase["seconds"],
                    server_pid=args.server_pid)
            continue
        held, row = None, None
        for rate in phase["capacity"]:
            # A step that fails is run once more: on a shared machine one stall elsewhere can sink six seconds.
            for _attempt in range(2):
                row = measure(gen, name=f"{route}@capacity", choose=choose, rate=rate, seconds=phase["seconds"],
                              server_pid=args.server_pid)
                passed = row["p99_ms"] < P99_LIMIT_MS and row["bad"] == 0
                if passed:
                    break
            if not passed:
                break
            held = row
        # What stopped the climb: the server (busy CPU, p99 up) or the generator (its CPU, or sending late).
        stop = {k: row[k] for k in ("rate", "p99_ms", "server_cpu_pct", "generator_cpu_pct", "send_lag_p99_ms")}
        print(json.dumps({"capacity": route, "rate": held["rate"] if held else 0, "stopped_at": stop,
                          "generator_limited": bool(row and row["generator_limited"])}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
