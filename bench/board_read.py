"""Figures, not a test: server CPU of today's board reads on `make load`'s 500-therapist agency, in-process.

    LOAD_DATABASE_URL=postgres://postgres@127.0.0.1:5432/rounds_NAME LOAD_REDIS_URL=redis://127.0.0.1:6379/N \
        .venv/bin/python bench/board_read.py [--fresh]

--fresh first builds the agency into that database as `make load` does (migrate, seed_demo, load_fixture).
Each figure is the median CPU time (process_time) of a request through Django's test client with the production
settings, the clock held still and moved by hand; a minute's turn is the clock moved on by one minute.
"""
from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import load_run  # noqa: E402  (the same environment and fixture as make load)

ROUNDS = 9


def cpu_ms(action) -> tuple[float, object]:
    t0 = time.process_time()
    result = action()
    return (time.process_time() - t0) * 1000, result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fresh", action="store_true")
    args = parser.parse_args()
    load_run.in_process(fresh=args.fresh)
    import time_machine
    from django.db import transaction
    from django.test import Client
    from django.utils import timezone

    from dispatch.models import User, Visit, VisitStatus
    from dispatch.services.visit_actions import visit_check_in

    user = User.objects.get(username="load-coordinator-0")
    tz = user.organization.tz
    client = Client()
    client.force_login(user)
    today = timezone.localdate(timezone=tz)
    data, live = f"/board/data?date={today}", f"/board/live?date={today}"
    moment = timezone.localtime(timezone=tz).replace(second=5, microsecond=0)
    figures: dict[str, list[float]] = {}
    sizes: dict[str, str] = {}

    def timed(name: str, path: str, **headers):
        ms, response = cpu_ms(lambda: client.get(path, **headers))
        figures.setdefault(name, []).append(ms)
        sizes[name] = f"{response.status_code}, {len(response.content) // 1024} kB"
        return response

    with time_machine.travel(moment, tick=False) as clock:
        has_live = client.get(live).status_code == 200
        client.get(data)  # every part cached
        for n in range(ROUNDS):
            clock.move_to(moment + dt.timedelta(minutes=n + 1))
            first = timed("today's board data, first read after a minute's turn", data)
            timed("today's board data, read again in the same minute", data)
            if first.has_header("ETag"):
                timed("today's board data, conditional (If-None-Match)", data, HTTP_IF_NONE_MATCH=first["ETag"])
            if has_live:
                overlay = timed("live overlay, first read after a minute's turn", live)
                timed("live overlay, read again in the same minute", live)
                timed("live overlay, conditional (If-None-Match)", live, HTTP_IF_NONE_MATCH=overlay["ETag"])
        # A check-in moves the day's and one part's version: one row built again, the rest from the cache.
        # A therapist's first visit still to start, of therapists in no visit (the database keeps earlier runs').
        busy = Visit.objects.filter(date=today, status=VisitStatus.IN_PROGRESS).values("therapist_id")
        waiting = (Visit.objects.filter(organization=user.organization, date=today, status=VisitStatus.SCHEDULED)
                   .exclude(therapist_id__in=busy).select_related("therapist__user")
                   .order_by("therapist_id", "planned_start"))
        visits, seen = [], set()
        for visit in waiting:
            if visit.therapist_id not in seen and len(visits) < ROUNDS:
                seen.add(visit.therapist_id)
                visits.append(visit)
        for n, visit in enumerate(visits):
            clock.move_to(moment + dt.timedelta(minutes=ROUNDS + n + 1, seconds=30))
            if has_live:
                client.get(live)  # the minute's overlay made before the check-in, as an open board has it
            try:
                with transaction.atomic():
                    visit_check_in(visit=visit, by=visit.therapist.user)
            except Exception as e:  # noqa: BLE001  a figure, not a test: say what stopped it
                print(f"check-in of visit {visit.pk} refused: {e}")
                continue
            timed("today's board data after a check-in (one row built again)", data)
            if has_live:
                timed("live overlay after a check-in (in the same minute)", live)
    print(f"# {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M UTC}, commit {load_run.commit()}; {load_run.uptime()}")
    print(f"# CPU ms per request, median of {ROUNDS} (min-max), clock at {moment:%H:%M} local, day {today}")
    for name, values in figures.items():
        print(f"{statistics.median(values):7.1f} ms ({min(values):.1f}-{max(values):.1f})  {name} ({sizes[name]})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
