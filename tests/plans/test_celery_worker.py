"""The broker path as production runs it: POST /api/v1/plans publishes through _send_to_worker to the local Redis,
and a real Celery worker, started by the test against the test database, solves the run."""
from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from dispatch import models as m
from dispatch.services.plans import WORKER_LOST
from tests.clients import signed_in
from tests.plans.conftest import celery_broker, wait_for_status

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
    """A real Celery worker on the default queue of the test Redis database, against the test database."""
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.base",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "REDIS_URL": REDIS_URL,
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", f"--pool={pool}", "--concurrency=1",
         "--loglevel=warning", "--without-gossip", "--without-mingle", "--without-heartbeat"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        yield worker
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()


@pytest.fixture
def published(settings):
    """Plan runs started through the API go to the test Redis, as with REDIS_URL in production."""
    _needs_postgres_and_redis()
    with celery_broker(settings, REDIS_URL) as app:
        app.control.purge()  # a message left by an earlier, interrupted run must not reach this test's worker
        yield


def _alive(worker):
    def check() -> None:
        assert worker.poll() is None, worker.stdout.read()

    return check


def _run(run_id: int) -> dict:
    run = m.PlanRun.objects.get(pk=run_id)
    return {"status": run.status, "attempts": run.attempts, "error": run.error, "task_id": run.task_id}


def _start(client, day, time_limit_s: int) -> dict:
    started = client.post("/api/v1/plans", {"date": str(day), "time_limit_s": time_limit_s}, format="json")
    assert started.status_code == 202, started.content
    assert started.json()["status"] == "queued"
    return started.json()


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_a_plan_started_through_the_api_is_published_to_the_broker_and_solved_by_a_worker(
    published, small_day, coordinator
):
    day, _, visits = small_day
    client = signed_in(coordinator)
    with _worker("solo") as worker:
        started = _start(client, day, time_limit_s=1)
        # _send_to_worker stored the broker's task id: the run was published, not run in-process.
        assert m.PlanRun.objects.get(pk=started["id"]).task_id
        watch = lambda: client.get(started["url"]).json()  # noqa: E731
        done = wait_for_status(watch, {"succeeded", "failed"}, seconds=WAIT_S, alive=_alive(worker))
    assert done["status"] == "succeeded", done["error"]
    assert done["error"] == ""  # no "Broker unreachable, ran in-process"
    run = m.PlanRun.objects.get(pk=started["id"])
    assert run.attempts == 1
    assert {s["visit_id"] for r in run.result["routes"] for s in r["stops"]} == {v.pk for v in visits}


def _children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def _kill_the_solving_child(worker, run_id: int, attempt: int) -> None:
    """Once the worker has claimed the run for the ``attempt``-th time, its pool process dies (an OOM kill)."""
    def claimed() -> dict:
        run = _run(run_id)
        return {"status": "claimed" if run["status"] == "running" and run["attempts"] >= attempt else run["status"]}

    assert wait_for_status(claimed, {"claimed", "succeeded", "failed"}, alive=_alive(worker))["status"] == "claimed"
    (child,) = _children(worker.pid)
    os.kill(child, 9)  # the parent sees WorkerLostError; acks_late + reject_on_worker_lost give the message back


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_solve_is_retried_once_and_the_plan_applied_once(published, small_day, coordinator):
    day, _, _ = small_day
    client = signed_in(coordinator)
    with _worker("prefork") as worker:
        started = _start(client, day, time_limit_s=10)
        _kill_the_solving_child(worker, started["id"], attempt=1)
        done = wait_for_status(lambda: _run(started["id"]), {"succeeded", "failed"}, alive=_alive(worker))
    assert done["status"] == m.PlanStatus.SUCCEEDED, done["error"]
    assert done["attempts"] == 2
    assert client.post(f"/api/v1/plans/{started['id']}/apply").status_code == 200
    assert client.post(f"/api/v1/plans/{started['id']}/apply").status_code == 409


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_a_run_whose_worker_died_twice_is_failed_by_the_third_delivery(published, small_day, coordinator):
    day, _, _ = small_day
    client = signed_in(coordinator)
    with _worker("prefork") as worker:
        started = _start(client, day, time_limit_s=30)
        _kill_the_solving_child(worker, started["id"], attempt=1)
        _kill_the_solving_child(worker, started["id"], attempt=2)
        watch = lambda: client.get(started["url"]).json()  # noqa: E731
        done = wait_for_status(watch, {"succeeded", "failed"}, seconds=WAIT_S, alive=_alive(worker))
    assert done["status"] == "failed"
    assert done["error"] == WORKER_LOST
    assert _run(started["id"])["attempts"] == 2
    # The day can be planned again at once.
    assert client.post("/api/v1/plans", {"date": str(day), "time_limit_s": 1}, format="json").status_code == 202
