from __future__ import annotations

import contextlib
import datetime as dt
import time

import pytest

from dispatch import models as m
from tests import factories as f


@pytest.fixture
def small_day(organization):
    """Three therapists and ten home visits tomorrow, all plannable."""
    day = f.tomorrow()
    therapists = [f.TherapistFactory(organization=organization) for _ in range(3)]
    visits = [
        f.VisitFactory(organization=organization, date=day, duration_min=30, windows=[("08:30", "16:30")])
        for _ in range(10)
    ]
    return day, therapists, visits


@pytest.fixture
def fever_visit(organization, small_day):
    day, _, _ = small_day
    visit = f.VisitFactory(organization=organization, date=day)
    m.Contraindication.objects.create(patient=visit.patient, kind="fever", active_from=day - dt.timedelta(days=1))
    return visit


@contextlib.contextmanager
def celery_broker(settings, url: str):
    """This process publishes plan runs to ``url`` as production does with REDIS_URL (the test settings are eager)."""
    from kombu import pools

    from config.celery import app

    settings.CELERY_BROKER_URL, settings.CELERY_TASK_ALWAYS_EAGER = url, False
    app.conf.update(broker_url=url, task_always_eager=False)
    app._pool = app.amqp._producer_pool = None
    try:
        yield app
    finally:
        app.conf.update(broker_url="", task_always_eager=True)
        # Close and forget the connections made to this broker (kombu keeps its pools by URL) so later tests
        # start clean.
        pools.reset()
        app._pool = app.amqp._producer_pool = None


def wait_for_status(fetch, statuses, *, seconds: float = 90, alive=None) -> dict:
    """Poll ``fetch()`` (a run as a dict) until its status is one of ``statuses``; every status seen is kept."""
    seen: list[str] = []
    deadline = time.monotonic() + seconds
    while True:
        run = fetch()
        if not seen or seen[-1] != run["status"]:
            seen.append(run["status"])
        if run["status"] in statuses:
            return {**run, "seen": seen}
        if alive is not None:
            alive()
        assert time.monotonic() < deadline, f"the run stayed {seen[-1]} (seen: {seen})"
        time.sleep(0.1)
