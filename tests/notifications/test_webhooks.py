"""Webhooks through the API: subscribe, receive signed deliveries, retries, disabling, refused addresses."""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json

import pytest
import time_machine
from django.core.management import call_command

from dispatch import models as m
from dispatch.notifications.webhooks import webhook_signature, webhook_signature_verify, webhook_url_problem
from tests import factories as f
from tests.conftest import _client_for
from tests.notifications.conftest import at, travel
from tests.notifications.receiver import Receiver


@pytest.fixture
def receiver():
    with Receiver().running() as running:
        yield running


def _subscribe(user, url: str, events: list[str], **extra) -> dict:
    response = _client_for(user).post("/api/v1/webhooks", {"url": url, "events": events, **extra}, format="json")
    assert response.status_code == 201, response.data
    return response.data


def _verified(secret: str, headers: dict[str, str], body: bytes, now: float) -> bool:
    """What a receiver does, written here from the documented scheme rather than with our helper."""
    fields = dict(part.split("=", 1) for part in headers["X-Rounds-Signature"].split(","))
    expected = hmac.new(secret.encode(), f"{fields['t']}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, fields["v1"]) and abs(now - int(fields["t"])) <= 300


def _cancel(ward, visit, reason: str, callbacks) -> None:
    with callbacks(execute=True):
        response = _client_for(ward.coordinator).post(
            f"/api/v1/visits/{visit.pk}/cancel", {"reason": reason}, format="json"
        )
    assert response.status_code == 200, response.data


def test_a_facility_subscription_receives_its_own_visits_signed_and_logged(
    ward, receiver, django_capture_on_commit_callbacks
):
    elsewhere = f.PatientFactory(organization=ward.org, facility=f.FacilityFactory(organization=ward.org))
    other_facility_visit = f.VisitFactory(organization=ward.org, patient=elsewhere)
    subscription = _subscribe(ward.asker, receiver.url, ["visit.cancelled", "visit.moved"])
    assert subscription["facility"] == ward.facility.pk and len(subscription["secret"]) == 64

    with travel("09:00"):
        _cancel(ward, ward.ward, "Family asked", django_capture_on_commit_callbacks)
        _cancel(ward, other_facility_visit, "Not ours", django_capture_on_commit_callbacks)
        now = dt.datetime.now().timestamp()

    (headers, body), = receiver.requests
    assert _verified(subscription["secret"], headers, body, now)
    assert not _verified("another secret", headers, body, now)
    document = json.loads(body)
    assert document["type"] == headers["X-Rounds-Event"] == "visit.cancelled"
    assert document["data"]["visit"] == ward.ward.pk
    assert document["data"]["reason"] == "Family asked"
    assert document["data"]["initials"] == ward.ward.patient.initials
    deliveries = _client_for(ward.asker).get(f"/api/v1/webhooks/{subscription['id']}/deliveries").data["results"]
    assert [(d["delivery_id"], d["status"], d["attempts"], d["last_status_code"]) for d in deliveries] == [
        (headers["X-Rounds-Delivery"], "sent", 1, 200)
    ]
    assert _client_for(ward.colleague).get(f"/api/v1/webhooks/{subscription['id']}").status_code == 200
    assert _client_for(ward.t1.user).get(f"/api/v1/webhooks/{subscription['id']}").status_code == 403


def test_an_organisation_subscription_hears_of_every_facility_and_of_late_visits(ward, receiver):
    subscription = _subscribe(ward.coordinator, receiver.url, ["visit.late"])
    assert subscription["facility"] is None
    with travel("10:20"):
        call_command("notifications_run", "--once")
    (headers, body), = receiver.requests
    assert json.loads(body)["data"]["visit"] == ward.t2_visit.pk
    assert "therapist" not in json.loads(body)["data"]


def test_a_failed_delivery_is_retried_with_exponential_backoff_and_the_same_delivery_id(
    ward, django_capture_on_commit_callbacks
):
    with Receiver(codes=[500, 503]).running() as receiver:
        subscription = _subscribe(ward.coordinator, receiver.url, ["visit.cancelled"])
        with time_machine.travel(at("09:00"), tick=False) as clock:
            _cancel(ward, ward.home, "Family asked", django_capture_on_commit_callbacks)
            for seconds, expected_requests in ((29, 1), (1, 2), (59, 2), (1, 3), (600, 3)):
                clock.shift(dt.timedelta(seconds=seconds))
                call_command("notifications_run", "--once")
                assert len(receiver.requests) == expected_requests, seconds
    assert len({headers["X-Rounds-Delivery"] for headers, _ in receiver.requests}) == 1
    assert len({body for _, body in receiver.requests}) == 1  # the same bytes; only the signature's time moves
    (delivery,) = _client_for(ward.coordinator).get(f"/api/v1/webhooks/{subscription['id']}/deliveries").data["results"]
    assert (delivery["status"], delivery["attempts"], delivery["last_status_code"]) == ("sent", 3, 200)


def test_a_subscription_that_keeps_failing_is_disabled_until_turned_back_on(
    ward, settings, django_capture_on_commit_callbacks
):
    settings.ROUNDS_WEBHOOK_DISABLE_AFTER = 3
    with Receiver(default=500).running() as receiver:
        subscription = _subscribe(ward.coordinator, receiver.url, ["visit.cancelled"])
        with time_machine.travel(at("09:00"), tick=False) as clock:
            _cancel(ward, ward.home, "Family asked", django_capture_on_commit_callbacks)
            for _ in range(4):
                clock.shift(dt.timedelta(minutes=5))
                call_command("notifications_run", "--once")
            _cancel(ward, ward.ward, "Discharged", django_capture_on_commit_callbacks)
    assert len(receiver.requests) == 3
    shown = _client_for(ward.coordinator).get(f"/api/v1/webhooks/{subscription['id']}").data
    assert shown["active"] is False and shown["disabled_reason"].startswith("Disabled after 3 failed delivery attempts")
    statuses = [d.status for d in m.WebhookDelivery.objects.order_by("pk")]
    assert statuses == [m.SendStatus.SKIPPED]  # the pending retry dropped; the later change made no delivery
    turned_on = _client_for(ward.coordinator).patch(
        f"/api/v1/webhooks/{subscription['id']}", {"active": True}, format="json"
    )
    assert turned_on.data["active"] is True and turned_on.data["consecutive_failures"] == 0


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:8080/hook", "http://localhost/hook", "https://10.1.2.3/hook", "http://[::1]/hook",
     "http://169.254.169.254/latest", "https://192.168.0.10/", "ftp://example.org/hook"],
)
def test_in_production_an_endpoint_on_a_private_or_loopback_address_is_refused(ward, settings, url):
    settings.ROUNDS_WEBHOOK_ALLOW_PRIVATE = False
    response = _client_for(ward.coordinator).post(
        "/api/v1/webhooks", {"url": url, "events": ["visit.moved"]}, format="json"
    )
    assert response.status_code == 400
    assert "url" in response.data
    assert not m.WebhookSubscription.objects.exists()


def test_a_public_address_passes_the_check_without_any_traffic(settings):
    settings.ROUNDS_WEBHOOK_ALLOW_PRIVATE = False
    assert webhook_url_problem("https://8.8.8.8/hooks") is None  # an address literal: nothing is looked up


def test_an_endpoint_that_became_private_is_not_called(ward, receiver, settings, django_capture_on_commit_callbacks):
    _subscribe(ward.coordinator, receiver.url, ["visit.cancelled"])
    settings.ROUNDS_WEBHOOK_ALLOW_PRIVATE = False
    with travel("09:00"):
        _cancel(ward, ward.home, "Family asked", django_capture_on_commit_callbacks)
    assert receiver.requests == []
    (delivery,) = m.WebhookDelivery.objects.all()
    assert delivery.status == m.SendStatus.PENDING and "loopback, private or reserved" in delivery.last_error


def test_the_signature_helper_refuses_a_replayed_or_altered_delivery():
    body = b'{"type":"visit.moved"}'
    header = webhook_signature(secret="s3cret", body=body, timestamp=1_900_000_000)
    assert webhook_signature_verify(secret="s3cret", header=header, body=body, now=1_900_000_100)
    assert not webhook_signature_verify(secret="s3cret", header=header, body=body, now=1_900_000_301)
    assert not webhook_signature_verify(secret="s3cret", header=header, body=body + b" ", now=1_900_000_100)
    assert not webhook_signature_verify(secret="s3cret", header="garbage", body=body, now=1_900_000_100)
