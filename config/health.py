"""Liveness and readiness for the load balancer or orchestrator.

A dozen lines each, so no library: /healthz says the process answers (it touches nothing else, so a
database outage does not get the process restarted); /readyz says whether it can serve requests now:
the database, the cache, and the Celery broker when one is configured. Neither needs a login, and
neither says more than which dependency failed.
"""
from __future__ import annotations

import logging
import uuid

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

logger = logging.getLogger(__name__)
BROKER_TIMEOUT_S = 2


@require_GET
@transaction.non_atomic_requests
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def _database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def _cache() -> None:
    key, value = f"readyz:{uuid.uuid4().hex}", "ok"
    cache.set(key, value, timeout=10)
    if cache.get(key) != value:
        raise RuntimeError("the cache did not return what was stored")
    cache.delete(key)


def _broker() -> None:
    from kombu import Connection

    with Connection(settings.CELERY_BROKER_URL, connect_timeout=BROKER_TIMEOUT_S) as broker:
        broker.ensure_connection(max_retries=1, timeout=BROKER_TIMEOUT_S)


@require_GET
@transaction.non_atomic_requests  # a request-wide transaction would already need the database
def readyz(request: HttpRequest) -> JsonResponse:
    probes = {"database": _database, "cache": _cache}
    if settings.CELERY_BROKER_URL and not settings.CELERY_TASK_ALWAYS_EAGER:
        probes["broker"] = _broker
    checks = {}
    for name, probe in probes.items():
        try:
            probe()
            checks[name] = "ok"
        except Exception as exc:  # noqa: BLE001 (any failure of a dependency means not ready)
            logger.warning("readyz: %s failed: %s", name, exc)
            checks[name] = "failed"
    ready = all(state == "ok" for state in checks.values())
    return JsonResponse({"status": "ok" if ready else "failed", "checks": checks}, status=200 if ready else 503)
