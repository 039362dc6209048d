"""Who sends, and when: a Celery worker when a broker is configured, this process otherwise.

After every commit that wrote outbox rows, ``sending_start`` hands them to a sender. Once a minute,
``notifications_tick`` looks for late and at-risk visits and sends whatever is due: held by quiet
hours, waiting for a retry, or left behind by a process that stopped between commit and send (Celery
beat runs it with a broker; the in-process scheduler or `manage.py notifications_run` without one).
"""
from __future__ import annotations

import logging
import threading
import time

from django.conf import settings
from django.db import close_old_connections, connection

logger = logging.getLogger(__name__)


def flush_all() -> dict[str, int]:
    from dispatch.notifications.sender import outbox_flush
    from dispatch.notifications.webhooks import webhooks_flush

    return {"sent": outbox_flush(), "delivered": webhooks_flush()}


def notifications_tick() -> dict[str, int]:
    from dispatch.notifications.alerts import alerts_scan

    return {"alerts": alerts_scan(), **flush_all()}


def _in_thread(work, name: str) -> threading.Thread:
    def run() -> None:
        try:
            work()
        except Exception:
            logger.exception("%s failed; what it did not send stays due for the next run", name)
        finally:
            close_old_connections()
            connection.close()

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    return thread


def sending_start() -> None:
    if settings.CELERY_BROKER_URL and not settings.CELERY_TASK_ALWAYS_EAGER:
        from dispatch.tasks import notifications_flush_task

        try:
            notifications_flush_task.delay()
            return
        except Exception as exc:  # noqa: BLE001 (any broker failure: kombu raises several kinds)
            logger.warning("Broker unreachable (%s); notifications are sent in-process.", exc)
        _in_thread(flush_all, "notifications-send")
    elif settings.ROUNDS_NOTIFY_IN_PROCESS == "thread":
        _in_thread(flush_all, "notifications-send")
    else:
        flush_all()


_scheduler_lock = threading.Lock()
_scheduler: threading.Thread | None = None


def scheduler_start_in_process() -> None:
    """Without a broker, the web process runs the minute job; its first run sends what a crash left behind."""
    global _scheduler
    if settings.CELERY_BROKER_URL or settings.ROUNDS_NOTIFY_SCHEDULER != "thread":
        return
    with _scheduler_lock:
        if _scheduler is not None:
            return

        def loop() -> None:
            while True:
                try:
                    notifications_tick()
                except Exception:
                    logger.exception("Notification tick failed; the next one tries again")
                finally:
                    close_old_connections()
                time.sleep(settings.ROUNDS_NOTIFY_TICK_S)

        _scheduler = threading.Thread(target=loop, name="notifications-scheduler", daemon=True)
        _scheduler.start()
