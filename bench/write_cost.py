"""Figures, not a test: what a therapist's writes cost the server on `make load`'s 500-therapist agency, in-process.

    LOAD_DATABASE_URL=postgres://postgres@127.0.0.1:5432/rounds_NAME LOAD_REDIS_URL=redis://127.0.0.1:6379/N \
        .venv/bin/python bench/write_cost.py [--fresh] [--visits 9]

--fresh first builds the agency into that database as `make load` does (migrate, seed_demo, load_fixture).
Each of --visits therapists (in no session, with a visit due within the check-in window) checks in, checks out
and reports a later visit 15 min late through the real URLs (Django's test client, production settings, signed
in with a session). Per action: queries and CPU ms (process_time), median and range over the visits after the
first (whose first request pays for imports); with --calls, Python calls (cProfile), which do not move with load. The database keeps what was done: each run
takes visits no earlier run took.
"""
from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import pstats
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import load_run  # noqa: E402  (the same environment and fixture as make load)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fresh", action="store_true")
    parser.add_argument("--visits", type=int, default=9)
    parser.add_argument("--calls", action="store_true", help="count Python calls too (cProfile; its overhead then inflates the CPU)")
    parser.add_argument("--sql", action="store_true", help="print the queries of each action's last request")
    parser.add_argument("--top", type=int, default=0, metavar="N",
                        help="with --calls, print each action's N functions of most cumulative time (where to cut next)")
    parser.add_argument("--only", default="", metavar="REGEX",
                        help="with --top, list only functions whose file matches (e.g. 'main/(api|dispatch)/')")
    args = parser.parse_args()
    load_run.in_process(fresh=args.fresh)
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from dispatch.models import User, Visit, VisitStatus

    organization = User.objects.get(username="load-coordinator-0").organization
    now = timezone.now()
    today = timezone.localdate(now, organization.tz)
    opens = dt.timedelta(minutes=settings.ROUNDS_CHECK_IN_EARLY_MIN)
    busy = Visit.objects.filter(date=today, status=VisitStatus.IN_PROGRESS).values("therapist_id")
    due = (
        Visit.objects.filter(
            organization=organization, date=today, status=VisitStatus.SCHEDULED,
            planned_start__lte=now + opens, planned_start__gte=now - dt.timedelta(minutes=30),
        )
        .exclude(therapist_id__in=busy).select_related("therapist__user").order_by("therapist_id", "planned_start")
    )
    picked, seen = [], set()
    for visit in due:
        if visit.therapist_id not in seen and len(picked) < args.visits:
            seen.add(visit.therapist_id)
            picked.append(visit)
    if len(picked) < 2:
        print(f"# only {len(picked)} visit(s) due now: run it during the fixture's day, or with --fresh")
        return 1
    figures: dict[str, list[tuple[int, float, int]]] = {}
    profiles: dict[str, pstats.Stats] = {}
    last_queries: dict[str, list[tuple[float, str]]] = {}
    wall_ms: dict[str, list[float]] = {}
    db_ms: dict[str, list[float]] = {}  # wall time waiting on the database, as Django's debug cursor times it
    for n, visit in enumerate(picked):
        client = Client()
        client.force_login(visit.therapist.user)
        later = (
            Visit.objects.filter(therapist_id=visit.therapist_id, date=today, status=VisitStatus.SCHEDULED,
                                 planned_start__gt=visit.planned_start).order_by("planned_start").first()
        )
        actions = [("check-in", visit, "check-in", {}), ("check-out", visit, "check-out", {})]
        if later is not None:
            actions.append(("late report (15 min)", later, "late", {"minutes": 15}))
        for name, target, action, body in actions:
            path = f"/api/v1/visits/{target.pk}/{action}"
            profile = cProfile.Profile() if args.calls else None
            with CaptureQueriesContext(connection) as queries:
                t0, w0 = time.process_time(), time.perf_counter()
                if profile:
                    profile.enable()
                response = client.post(path, body, content_type="application/json")
                if profile:
                    profile.disable()
                cpu_ms = (time.process_time() - t0) * 1000
                took_ms = (time.perf_counter() - w0) * 1000
            assert response.status_code == 200, (path, response.status_code, response.content[:300])
            if n:
                calls = pstats.Stats(profile).total_calls if profile else 0
                figures.setdefault(name, []).append((len(queries.captured_queries), cpu_ms, calls))
                wall_ms.setdefault(name, []).append(took_ms)
                last_queries[name] = [(float(q["time"]) * 1000, q["sql"]) for q in queries.captured_queries]
                db_ms.setdefault(name, []).append(sum(t for t, _ in last_queries[name]))
                if profile and args.top:
                    profiles[name].add(profile) if name in profiles else profiles.setdefault(name, pstats.Stats(profile))
    print(f"# {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M UTC}, commit {load_run.commit()}; {load_run.uptime()}")
    print(f"# {len(picked) - 1} therapists' writes (the first one's left out), through the real URLs"
          + ("; CPU includes cProfile's overhead" if args.calls else ""))
    print("| action | queries | CPU ms, median (min-max) | wall ms, median | of which the database, median |"
          + (" Python calls, median |" if args.calls else ""))
    print("|---|---|---|---|---|" + ("---|" if args.calls else ""))
    for name, rows in figures.items():
        q = sorted({r[0] for r in rows})
        cpu = [r[1] for r in rows]
        print(f"| {name} | {'-'.join(map(str, (q[0], q[-1]) if len(q) > 1 else q))} | "
              f"{statistics.median(cpu):.1f} ({min(cpu):.1f}-{max(cpu):.1f}) | {statistics.median(wall_ms[name]):.1f} | {statistics.median(db_ms[name]):.1f} |"
              + (f" {statistics.median(r[2] for r in rows):,.0f} |" if args.calls else ""))
    for name, sqls in last_queries.items() if args.sql else ():
        print(f"\n## {name}: the queries of its last request")
        for number, (ms, sql) in enumerate(sqls, 1):
            print(f"{number:3} {ms:6.2f} ms  {sql[:400]}")
    for name, stats in profiles.items():
        print(f"\n## {name}: the {args.top} functions of most cumulative time, over {len(figures[name])} requests")
        stats.sort_stats("cumulative").print_stats(*([args.only] if args.only else []), args.top)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
