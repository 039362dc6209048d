"""SMS providers behind one small interface; ROUNDS_SMS_BACKEND names the one in use.

Tests use LocmemSmsBackend: the Twilio backend is never called from a test.
"""
from __future__ import annotations

import logging
from typing import ClassVar, Protocol

from django.conf import settings
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)


class SmsBackend(Protocol):
    def send(self, *, to: str, body: str) -> str:
        """Send one text; return the provider's message id. Raise on failure (the sender retries)."""


class ConsoleSmsBackend:
    """The embedded default: the text goes to the log."""

    def send(self, *, to: str, body: str) -> str:
        logger.info("SMS to %s: %s", to, body)
        return "console"


class LocmemSmsBackend:
    """Keeps texts in memory, like Django's locmem email backend."""

    outbox: ClassVar[list[dict[str, str]]] = []

    def send(self, *, to: str, body: str) -> str:
        self.outbox.append({"to": to, "body": body})
        return f"locmem-{len(self.outbox)}"


class TwilioSmsBackend:
    """Twilio's Messages API through its own client library (TWILIO_ACCOUNT_SID, _AUTH_TOKEN, _FROM_NUMBER)."""

    def send(self, *, to: str, body: str) -> str:
        from twilio.rest import Client

        client = Client(settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN)
        return client.messages.create(to=to, from_=settings.TWILIO_FROM_NUMBER, body=body).sid


def sms_backend() -> SmsBackend:
    return import_string(settings.ROUNDS_SMS_BACKEND)()
