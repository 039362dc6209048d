"""Simulated operating weeks: generated agencies live through days of real use, checked after every step.

``simulate()`` generates 2-4 agencies, then drives the production URLconf through Django REST
framework's APIClient as their coordinators, therapists and facility staff (each signed in with a
token from POST /api/v1/auth/token), in simulated time (time-machine), and checks every invariant
in ``invariants`` after every step. It must run in a throwaway database: ``database.throwaway``
for the management command, pytest-django's test database in the suite.
"""

from __future__ import annotations

import logging
import time
from contextlib import contextmanager
from collections.abc import Callable
from dataclasses import dataclass

from django.core.cache import cache
from django.test.utils import override_settings

from dispatch.simulation.engine import Simulation
from dispatch.simulation.generate import Scale
from dispatch.simulation.record import Failure, Recorder
from dispatch.simulation.report import report_lines

# Plans run inside the request that starts them (the embedded mode without a broker, made synchronous
# so a step ends when its work does), with the shortest limits the API accepts; caches are the process's.
RUN_SETTINGS = {
    "ROUNDS_PLAN_IN_PROCESS": "sync",
    "CELERY_BROKER_URL": "",
    "CELERY_TASK_ALWAYS_EAGER": True,
    "ROUNDS_REPLAN_TIME_LIMIT_S": 0.5,
    "ROUNDS_OSRM_URL": "",
    "ROUNDS_GEOCODER": "",
    "CACHES": {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "simulation"}},
    "PASSWORD_HASHERS": ["django.contrib.auth.hashers.MD5PasswordHasher"],
    # Notifications are written with each change and sent inside the step, to nowhere.
    "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
    "ROUNDS_SMS_BACKEND": "dispatch.notifications.sms.LocmemSmsBackend",
    "ROUNDS_NOTIFY_IN_PROCESS": "sync",
    "ROUNDS_NOTIFY_SCHEDULER": "off",
}
# Refusals are the run's business (it counts them); Django's log line for each 4xx would drown the report.
QUIET_LOGGERS = ("django.request", "dispatch.services.plans")


@dataclass
class Outcome:
    recorder: Recorder
    lines: list[str]

    @property
    def failures(self) -> list:
        return self.recorder.failures

    @property
    def unknown_failures(self) -> list:
        return [f for f in self.recorder.failures if not f.known]


@contextmanager
def _quiet():
    saved = {name: logging.getLogger(name).level for name in QUIET_LOGGERS}
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


def command_for(*, seed: int, days: int, agencies: int, scale: str) -> str:
    return f"python manage.py simulate --seed {seed} --days {days} --agencies {agencies} --scale {scale}"


def simulate(
    *,
    seed: int,
    days: int,
    agencies: int,
    scale: str = "full",
    until_step: int | None = None,
    on_failure: Callable[[Failure], None] | None = None,
    on_day: Callable[[int, int], None] | None = None,
) -> Outcome:
    """Run one simulation in the current (throwaway) database and return its figures.

    ``on_failure`` hears of each failure when it is found, ``on_day`` of each new day (a long run's progress)."""
    sizes = {"small": Scale.small(), "full": Scale.full()}[scale]
    started = time.monotonic()
    with override_settings(**RUN_SETTINGS), _quiet():
        cache.clear()
        simulation = Simulation(seed=seed, days=days, agencies=agencies, scale=sizes, until_step=until_step)
        simulation.recorder.on_failure, simulation.recorder.on_day = on_failure, on_day
        recorder = simulation.run()
    command = command_for(seed=seed, days=days, agencies=agencies, scale=scale)
    lines = report_lines(recorder, days=days, agencies=agencies, command=command, seconds=time.monotonic() - started)
    return Outcome(recorder=recorder, lines=lines)
