from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand

from dispatch.services.idempotency import idempotency_keys_purge


class Command(BaseCommand):
    help = "Delete Idempotency-Keys older than ROUNDS_IDEMPOTENCY_KEY_TTL_H hours (run daily, e.g. from cron)."

    def handle(self, *args, **opts) -> None:
        deleted = idempotency_keys_purge()
        self.stdout.write(
            f"Deleted {deleted} Idempotency-Key(s) older than {settings.ROUNDS_IDEMPOTENCY_KEY_TTL_H} h."
        )
