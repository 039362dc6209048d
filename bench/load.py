"""Open-loop HTTP load at a fixed rate from a second process, with p50/p99 per target.

Written by hand because the load must follow a schedule (200 requests a second) and be
timed from the moment each request was due, so a slow server cannot hide its queueing
(coordinated omission). wrk holds connections busy instead of a rate; Locust would add a
large dependency for a few dozen lines.

    python bench/load.py --rate 200 --seconds 10 NAME=URL[|Header: value] ...
"""
from __future__ import annotations

import argparse
import http.client
import queue
import statistics
import threading
import time
import urllib.parse
from dataclasses import dataclass, field


@dataclass
class Target:
    name: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Outcome:
    latencies_ms: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0


def parse_target(spec: str) -> Target:
    name, _, rest = spec.partition("=")
    url, *header_specs = rest.split("|")
    headers = dict(h.split(": ", 1) for h in header_specs)
    return Target(name=name, url=url, headers=headers)


def run(target: Target, *, rate: float, seconds: float, workers: int, warmup: int) -> Outcome:
    parts = urllib.parse.urlsplit(target.url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    due: queue.Queue[float | None] = queue.Queue()
    outcome = Outcome()
    lock = threading.Lock()

    def worker() -> None:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
        while (when := due.get()) is not None:
            time.sleep(max(0.0, when - time.perf_counter()))
            try:
                conn.request("GET", path, headers=target.headers)
                response = conn.getresponse()
                response.read()
                status = response.status
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
                with lock:
                    outcome.errors += 1
                continue
            elapsed_ms = (time.perf_counter() - when) * 1000
            with lock:
                outcome.latencies_ms.append(elapsed_ms)
                outcome.statuses[status] = outcome.statuses.get(status, 0) + 1
        conn.close()

    # Warm-up, untimed: the first request of each worker process fills its caches and connections.
    for _ in range(warmup):
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
        conn.request("GET", path, headers=target.headers)
        conn.getresponse().read()
        conn.close()
    threads = [threading.Thread(target=worker, daemon=True) for _ in range(workers)]
    for t in threads:
        t.start()
    start = time.perf_counter() + 0.2
    total = int(rate * seconds)
    for i in range(total):
        due.put(start + i / rate)
    for _ in threads:
        due.put(None)
    for t in threads:
        t.join()
    return outcome


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("targets", nargs="+", type=parse_target)
    parser.add_argument("--rate", type=float, default=200.0, help="requests per second")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=32, help="concurrent connections")
    parser.add_argument("--warmup", type=int, default=10, help="untimed requests per target first")
    args = parser.parse_args()
    print("target,requests,rate_per_s,p50_ms,p99_ms,max_ms,errors,statuses")
    for target in args.targets:
        out = run(target, rate=args.rate, seconds=args.seconds, workers=args.workers, warmup=args.warmup)
        lat = sorted(out.latencies_ms) or [float("nan")]
        statuses = " ".join(f"{code}:{n}" for code, n in sorted(out.statuses.items()))
        print(
            f"{target.name},{len(out.latencies_ms)},{args.rate:.0f},{percentile(lat, 50):.1f},"
            f"{percentile(lat, 99):.1f},{lat[-1]:.1f},{out.errors},{statuses}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
