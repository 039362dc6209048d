"""Webhook deliveries: signed with HMAC-SHA256 over "timestamp.body", retried with exponential backoff.

Receivers check ``X-Rounds-Signature: t=<unix seconds>,v1=<hex>`` with the subscription's secret and
refuse a timestamp older than their replay window (``webhook_signature_verify`` is the reference). While a
rotated secret's predecessor is still honoured, the header carries one ``v1`` per secret (the new one first), so
a receiver accepts a delivery that any of them signed and can switch secrets at its own pace.
``X-Rounds-Delivery`` is the same on every retry of one delivery: receivers deduplicate on it.

The endpoint's name is resolved once per attempt, the addresses checked, and the request sent to the checked
address (the name kept for the Host header and TLS): resolving it again to connect would let a name that
answers a public address to the check and a private one to the connection (DNS rebinding) reach inside.
"""
from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import socket
import time
from urllib.parse import urlsplit

import certifi
import urllib3
from django.conf import settings
from django.db.models import F
from django.utils import timezone

from dispatch.models import SendStatus, WebhookDelivery, WebhookSubscription
from dispatch.notifications.claims import due_rows, mark_failed, mark_sent

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Rounds-Signature"
REPLAY_WINDOW_S = 300
URL_SCHEME = "Use an http or https URL."
URL_UNRESOLVED = "{host} does not resolve."
URL_PRIVATE = (
    "{host} resolves to {address}, a loopback, private or reserved address; webhooks go to public endpoints only."
)
DISABLED = "Disabled after {count} failed delivery attempts in a row; the last: {error}"


def webhook_endpoint(url: str) -> tuple[str | None, str | None]:
    """``(address to connect to, None)`` for a URL that may receive webhooks, else ``(None, why not)``.

    Checked when subscribing and again before each send, whose connection goes to the address returned.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None, URL_SCHEME
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError, ValueError):
        return None, URL_UNRESOLVED.format(host=parts.hostname)
    addresses = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
    if not settings.ROUNDS_WEBHOOK_ALLOW_PRIVATE:
        for address in addresses:
            if not address.is_global or address.is_multicast:
                return None, URL_PRIVATE.format(host=parts.hostname, address=address)
    return str(addresses[0]), None


def webhook_url_problem(url: str) -> str | None:
    return webhook_endpoint(url)[1]


def webhook_signature(*, secret: str, body: bytes, timestamp: int, also: tuple[str, ...] = ()) -> str:
    digests = [hmac.new(key.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest() for key in (secret, *also)]
    return ",".join([f"t={timestamp}", *(f"v1={digest}" for digest in digests)])


def webhook_signature_verify(
    *, secret: str, header: str, body: bytes, now: float | None = None, window_s: int = REPLAY_WINDOW_S
) -> bool:
    try:
        fields = [part.split("=", 1) for part in header.split(",")]
        timestamps = [int(value) for name, value in fields if name == "t"]
    except ValueError:
        return False
    if len(timestamps) != 1:
        return False
    (timestamp,) = timestamps
    if abs((now if now is not None else time.time()) - timestamp) > window_s:
        return False
    expected = webhook_signature(secret=secret, body=body, timestamp=timestamp).split(",v1=")[1]
    return any(hmac.compare_digest(expected, value) for name, value in fields if name == "v1")


def delivery_body(delivery: WebhookDelivery) -> bytes:
    """The same bytes on every attempt; only the signature's timestamp changes."""
    document = {"id": str(delivery.delivery_id), "created_at": delivery.created_at.isoformat(), **delivery.payload}
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


def delivery_headers(delivery: WebhookDelivery, body: bytes) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "User-Agent": "Rounds-Webhooks/1",
        "X-Rounds-Event": delivery.event,
        "X-Rounds-Delivery": str(delivery.delivery_id),
        SIGNATURE_HEADER: webhook_signature(
            secret=delivery.subscription.secret, body=body, timestamp=int(timezone.now().timestamp()),
            also=delivery.subscription.honoured_previous_secrets(),
        ),
    }


def _post(delivery: WebhookDelivery) -> int:
    address, problem = webhook_endpoint(delivery.subscription.url)
    if problem:
        raise PermissionError(problem)
    body = delivery_body(delivery)
    return _post_to(address, delivery.subscription.url, body=body, headers=delivery_headers(delivery, body))


def _post_to(address: str, url: str, *, body: bytes, headers: dict[str, str]) -> int:
    """POST to ``address`` for ``url``: urllib3 rather than requests, whose connection would resolve the name again.

    TLS still checks the certificate against the name (SNI and hostname from the URL, certifi's roots).
    """
    parts = urlsplit(url)
    timeout = urllib3.Timeout(total=settings.ROUNDS_WEBHOOK_TIMEOUT_S)
    if parts.scheme == "https":
        pool = urllib3.HTTPSConnectionPool(
            address, parts.port or 443, timeout=timeout, retries=False, cert_reqs="CERT_REQUIRED",
            ca_certs=certifi.where(), server_hostname=parts.hostname, assert_hostname=parts.hostname,
        )
    else:
        pool = urllib3.HTTPConnectionPool(address, parts.port or 80, timeout=timeout, retries=False)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    with pool:
        # No redirects: a redirect could lead to an address the check would refuse.
        response = pool.urlopen(
            "POST", path, body=body, headers={**headers, "Host": parts.netloc.rpartition("@")[2]},
            redirect=False, retries=False, preload_content=True,
        )
    return response.status


def _subscription_failed(subscription: WebhookSubscription, error: str) -> None:
    WebhookSubscription.objects.filter(pk=subscription.pk).update(consecutive_failures=F("consecutive_failures") + 1)
    subscription.refresh_from_db(fields=["consecutive_failures", "active"])
    if subscription.active and subscription.consecutive_failures >= settings.ROUNDS_WEBHOOK_DISABLE_AFTER:
        reason = DISABLED.format(count=subscription.consecutive_failures, error=error)[:300]
        WebhookSubscription.objects.filter(pk=subscription.pk).update(
            active=False, disabled_at=timezone.now(), disabled_reason=reason
        )
        subscription.deliveries.filter(status=SendStatus.PENDING).update(
            status=SendStatus.SKIPPED, last_error="The subscription was disabled."
        )


def webhooks_flush() -> int:
    """Deliver every due webhook; returns how many were accepted (2xx)."""
    delivered = 0
    for pk in due_rows(WebhookDelivery, due_field="next_attempt_at", now=timezone.now()):
        delivery = WebhookDelivery.objects.select_related("subscription").get(pk=pk)
        if not delivery.subscription.active:
            WebhookDelivery.objects.filter(pk=pk).update(
                status=SendStatus.SKIPPED, lease_until=None, last_error="The subscription is disabled."
            )
            continue
        code, error = None, ""
        try:
            code = _post(delivery)
        except (urllib3.exceptions.HTTPError, OSError, PermissionError) as exc:
            error = f"{type(exc).__name__}: {exc}"
        if code is not None and 200 <= code < 300:
            mark_sent(WebhookDelivery, pk=pk, delivered_at=timezone.now(), last_status_code=code)
            WebhookSubscription.objects.filter(pk=delivery.subscription_id).update(consecutive_failures=0)
            delivered += 1
            continue
        error = error or f"HTTP {code}"
        logger.warning("Webhook delivery %s to subscription %s failed: %s", pk, delivery.subscription_id, error)
        mark_failed(
            WebhookDelivery, pk=pk, attempts=delivery.attempts, max_attempts=settings.ROUNDS_WEBHOOK_MAX_ATTEMPTS,
            retry_field="next_attempt_at", backoff_s=settings.ROUNDS_WEBHOOK_BACKOFF_S, error=error,
            last_status_code=code,
        )
        _subscription_failed(delivery.subscription, error)
    return delivered
