"""The broker path, against the local Redis with a real Celery worker started by the test."""
from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.db import connection

from dispatch import models as m
from dispatch.services.plans import plan_run_create

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("REDIS_TEST_URL", "redis://127.0.0.1:6379/15")
WAIT_S = 90


def _redis_up() -> bool:
    import redis

    try:
        return redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError:
        return False


def _needs_postgres_and_redis() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the worker is a second process: it needs a shared database (run with DATABASE_URL=postgres://...)")
    if not _redis_up():
        pytest.skip(f"Redis is not reachable at {REDIS_URL}")


@contextlib.contextmanager
def _worker(pool: str):
    """A real Celery worker on a queue of its own, against the test database; stopped afterwards."""
    queue = f"rounds-test-{uuid.uuid4().hex[:8]}"
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.base",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "REDIS_URL": REDIS_URL,
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", f"--pool={pool}", "--concurrency=1",
         "--loglevel=warning", "-Q", queue, "--without-gossip", "--without-mingle", "--without-heartbeat"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        yield queue, worker
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()


@pytest.fixture
def worker_queue():
    _needs_postgres_and_redis()
    with _worker("solo") as started:
        yield started


def _send(plan_run_id: int, queue: str) -> None:
    """Publish the task as the web process would, through a producer of its own (the test app stays eager)."""
    from celery import Celery

    with Celery("rounds-test-producer", broker=REDIS_URL) as producer:
        producer.send_task("dispatch.plan_run", args=[plan_run_id], queue=queue)


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_a_plan_run_sent_to_the_broker_is_solved_by_a_worker(worker_queue, small_day, organization):
    queue, worker = worker_queue
    day, _, visits = small_day
    run = plan_run_create(organization=organization, day=day, created_by=None, time_limit_s=1, execute=False)
    _send(run.pk, queue)

    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        run.refresh_from_db()
        if run.status in (m.PlanStatus.SUCCEEDED, m.PlanStatus.FAILED):
            break
        assert worker.poll() is None, worker.stdout.read()
        time.sleep(0.5)
    assert run.status == m.PlanStatus.SUCCEEDED, run.error or "the worker did not finish in time"
    assert run.attempts == 1
    assert {s["visit_id"] for r in run.result["routes"] for s in r["stops"]} == {v.pk for v in visits}


def _children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


@pytest.fixture
def prefork_worker_queue():
    """A prefork worker, whose pool child can be killed mid-solve like an OOM kill."""
    _needs_postgres_and_redis()
    with _worker("prefork") as started:
        yield started


def _wait_for(run, statuses, worker, seconds=WAIT_S):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        run.refresh_from_db()
        if run.status in statuses:
            return run
        assert worker.poll() is None, worker.stdout.read()
        time.sleep(0.2)
    raise AssertionError(f"plan run {run.pk} stayed {run.status}")


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_solve_is_retried_once_and_the_plan_applied_once(
    prefork_worker_queue, small_day, organization, coordinator_client
):
    queue, worker = prefork_worker_queue
    day, _, _ = small_day
    run = plan_run_create(organization=organization, day=day, created_by=None, time_limit_s=4, execute=False)
    _send(run.pk, queue)

    _wait_for(run, {m.PlanStatus.RUNNING}, worker)
    (child,) = _children(worker.pid)
    os.kill(child, 9)  # the pool process dies mid-solve; the parent sees WorkerLostError

    run = _wait_for(run, {m.PlanStatus.SUCCEEDED, m.PlanStatus.FAILED}, worker)
    assert run.status == m.PlanStatus.SUCCEEDED, run.error
    assert run.attempts == 2
    assert coordinator_client.post(f"/api/v1/plans/{run.pk}/apply").status_code == 200
    assert coordinator_client.post(f"/api/v1/plans/{run.pk}/apply").status_code == 409
