"""The broker path with a real Celery worker on PostgreSQL and Redis: a worker killed mid-delivery.

The web side publishes the send after commit; the worker's pool process is killed while the mail server
holds the first message (not yet accepted). Afterwards every therapist has exactly one message on the
server and every webhook was delivered once: the rows not yet claimed were sent by the redelivered task,
the one in flight by the minute job once its lease was over.
"""
from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import threading
import time

import pytest
from aiosmtpd.controller import Controller

from dispatch import models as m
from tests import factories as f
from tests.conftest import _client_for
from tests.notifications.receiver import Receiver
from tests.plans.conftest import celery_broker
from tests.plans.test_celery_worker import REDIS_URL, WAIT_S, _children, _needs_postgres_and_redis, _worker

LEASE_S = 5


class HoldFirstMessage:
    """An SMTP server's handler that keeps the first message waiting, then refuses it (the sender is gone)."""

    def __init__(self) -> None:
        self.accepted: list[list[str]] = []
        self.holding, self.release = threading.Event(), threading.Event()

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 (aiosmtpd's name)
        if not self.holding.is_set():
            self.holding.set()
            await asyncio.get_running_loop().run_in_executor(None, self.release.wait, WAIT_S)
            return "421 Service not available, closing channel"
        self.accepted.append(list(envelope.rcpt_tos))
        return "250 OK"


@pytest.fixture
def smtp():
    handler = HoldFirstMessage()
    with socket.socket() as probe:  # aiosmtpd's controller needs the port before it binds
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, controller.port
    handler.release.set()
    controller.stop()


@pytest.fixture
def broker_path(settings):
    """The test process publishes like the web process with a broker (the plans' helper: pools reset after)."""
    _needs_postgres_and_redis()
    with contextlib.ExitStack() as stack:

        def switch_on() -> None:
            app = stack.enter_context(celery_broker(settings, REDIS_URL))
            app.control.purge()  # a message an earlier, interrupted run left must not reach this test's worker

        yield switch_on


def _wait(condition, worker, what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        if condition():
            return
        assert worker.poll() is None, worker.stdout.read()
        time.sleep(0.2)
    rows = list(m.Notification.objects.values_list("recipient_id", "channel", "status", "attempts", "last_error"))
    raise AssertionError(f"waited {WAIT_S} s for {what}: {rows}")


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_delivery_neither_loses_nor_duplicates_a_message(
    organization, coordinator, smtp, broker_path, monkeypatch
):
    handler, port = smtp
    switch_on = broker_path
    therapists = [f.TherapistFactory(organization=organization) for _ in range(3)]
    visits = []
    for number, therapist in enumerate(therapists):
        visit = f.VisitFactory(organization=organization, date=f.tomorrow())
        booked = _client_for(coordinator).post(
            f"/api/v1/visits/{visit.pk}/assign",
            {"therapist": therapist.pk, "planned_start": f.local(f.tomorrow(), f"{9 + number:02d}:00").isoformat()},
            format="json",
        )
        assert booked.status_code == 200, booked.data
        visits.append(visit)
    m.Notification.objects.all().delete()
    for key, value in {
        "DJANGO_EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend", "DJANGO_EMAIL_HOST": "127.0.0.1",
        "DJANGO_EMAIL_PORT": str(port), "ROUNDS_NOTIFY_LEASE_S": str(LEASE_S), "ROUNDS_WEBHOOK_ALLOW_PRIVATE": "true",
    }.items():
        monkeypatch.setenv(key, value)

    # The plans' worker helper: a real worker on the default queue of the test Redis database.
    queue = "celery"
    with Receiver().running() as receiver, _worker("prefork") as worker:
        m.WebhookSubscription.objects.create(
            organization=organization, url=receiver.url, events=["visit.cancelled"], secret="s" * 64
        )
        switch_on()
        for visit in visits:
            response = _client_for(coordinator).post(
                f"/api/v1/visits/{visit.pk}/cancel", {"reason": "Family asked"}, format="json"
            )
            assert response.status_code == 200, response.data
        assert handler.holding.wait(WAIT_S), "the worker never reached the mail server"
        (child,) = _children(worker.pid)
        os.kill(child, 9)  # the pool process dies with the first message in flight
        handler.release.set()

        emails = m.Notification.objects.filter(channel=m.Channel.EMAIL)
        _wait(lambda: emails.filter(status=m.SendStatus.SENT).count() >= 2, worker, "the two messages not in flight")
        # The dead sender's lease runs out; then the minute job (Celery beat's task) comes by. (On a slow
        # machine the redelivered task may already have found the lease over and sent it: the same outcome.)
        time.sleep(LEASE_S + 0.5)
        from config.celery import app

        app.send_task("dispatch.notifications_tick", queue=queue)
        _wait(lambda: emails.filter(status=m.SendStatus.SENT).count() == 3, worker, "the message that was in flight")
        _wait(lambda: len(receiver.requests) >= 3, worker, "the webhooks")
        time.sleep(1)  # anything sent twice would have arrived by now

    assert sorted(handler.accepted) == sorted([[t.user.email] for t in therapists])
    assert sorted(emails.values_list("attempts", flat=True)) == [1, 1, 2]
    delivered = [headers["X-Rounds-Delivery"] for headers, _ in receiver.requests]
    assert len(delivered) == len(set(delivered)) == 3
    assert set(m.WebhookDelivery.objects.values_list("status", flat=True)) == {m.SendStatus.SENT}
