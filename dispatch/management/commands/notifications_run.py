from __future__ import annotations

import time

from django.conf import settings
from django.core.management.base import BaseCommand

from dispatch.notifications.runner import notifications_tick


class Command(BaseCommand):
    help = (
        "Raise late and at-risk alerts and send every due message (what a stopped process left behind "
        "included); once, or every ROUNDS_NOTIFY_TICK_S seconds. Celery beat does this when a broker is set."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--once", action="store_true", help="One run, then exit (cron, tests).")

    def handle(self, *args, **opts) -> None:
        while True:
            result = notifications_tick()
            self.stdout.write(
                f"{result['alerts']} alerts raised, {result['sent']} messages sent, "
                f"{result['delivered']} webhooks delivered"
            )
            if opts["once"]:
                return
            time.sleep(settings.ROUNDS_NOTIFY_TICK_S)
