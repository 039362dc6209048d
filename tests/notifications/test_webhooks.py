"""Webhooks through the API: subscribe, receive signed deliveries, retries, disabling, refused addresses."""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import socket
import ssl

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
    fields = [part.split("=", 1) for part in headers["X-Rounds-Signature"].split(",")]
    (timestamp,) = [value for name, value in fields if name == "t"]
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    signed = any(hmac.compare_digest(expected, value) for name, value in fields if name == "v1")
    return signed and abs(now - int(timestamp)) <= 300


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


def _deliver_a_cancel(ward, visit, callbacks) -> float:
    """Cancels ``visit`` (its webhook is sent on commit); returns the moment, for the receiver's replay check."""
    _cancel(ward, visit, "Family asked", callbacks)
    return dt.datetime.now().timestamp()


def test_a_rotated_secret_signs_beside_the_old_one_for_the_overlap_then_alone(
    ward, receiver, django_capture_on_commit_callbacks
):
    subscription = _subscribe(ward.coordinator, receiver.url, ["visit.cancelled"])
    old = subscription["secret"]
    with travel("08:00"):
        rotated = _client_for(ward.coordinator).post(
            f"/api/v1/webhooks/{subscription['id']}/rotate-secret", {"keep_previous_for_s": 3600}, format="json"
        )
    assert rotated.status_code == 200, rotated.data
    new = rotated.data["secret"]
    assert len(new) == 64 and new != old
    assert dt.datetime.fromisoformat(rotated.data["previous_secret_expires_at"]) == at("09:00")
    assert "secret" not in _client_for(ward.coordinator).get(f"/api/v1/webhooks/{subscription['id']}").data

    with travel("08:30"):
        now = _deliver_a_cancel(ward, ward.ward, django_capture_on_commit_callbacks)
    (headers, body), = receiver.requests
    assert headers["X-Rounds-Signature"].count("v1=") == 2
    assert _verified(new, headers, body, now) and _verified(old, headers, body, now)

    with travel("09:01"):  # the overlap is over: the old secret no longer signs
        now = _deliver_a_cancel(ward, ward.home, django_capture_on_commit_callbacks)
    headers, body = receiver.requests[1]
    assert headers["X-Rounds-Signature"].count("v1=") == 1
    assert _verified(new, headers, body, now) and not _verified(old, headers, body, now)


def test_a_leaked_secret_rotated_with_no_overlap_stops_signing_at_once(
    ward, receiver, django_capture_on_commit_callbacks
):
    subscription = _subscribe(ward.coordinator, receiver.url, ["visit.cancelled"])
    rotated = _client_for(ward.coordinator).post(
        f"/api/v1/webhooks/{subscription['id']}/rotate-secret", {"keep_previous_for_s": 0}, format="json"
    ).data
    assert rotated["previous_secret_expires_at"] is None
    with travel("09:00"):
        now = _deliver_a_cancel(ward, ward.home, django_capture_on_commit_callbacks)
    (headers, body), = receiver.requests
    assert _verified(rotated["secret"], headers, body, now)
    assert not _verified(subscription["secret"], headers, body, now)


def test_rotating_a_secret_is_for_its_owners_and_checks_the_overlap(ward, organization):
    subscription = _subscribe(ward.asker, "http://127.0.0.1:9/hook", ["visit.moved"])
    url = f"/api/v1/webhooks/{subscription['id']}/rotate-secret"
    other_facility_staff = f.FacilityStaffFactory(organization=organization)
    other_org_coordinator = f.UserFactory(organization=f.OrganizationFactory())
    assert _client_for(ward.t1.user).post(url, {}, format="json").status_code == 403
    assert _client_for(other_facility_staff).post(url, {}, format="json").status_code == 404
    assert _client_for(other_org_coordinator).post(url, {}, format="json").status_code == 404
    for bad in (-1, 8 * 86_400, "soon"):
        response = _client_for(ward.asker).post(url, {"keep_previous_for_s": bad}, format="json")
        assert response.status_code == 400 and "keep_previous_for_s" in response.data, bad
    assert m.WebhookSubscription.objects.get(pk=subscription["id"]).secret == subscription["secret"]
    by_coordinator = _client_for(ward.coordinator).post(url, {}, format="json")  # a day's overlap by default
    assert by_coordinator.status_code == 200 and by_coordinator.data["secret"] != subscription["secret"]


def test_a_delivery_connects_to_the_address_it_checked_not_to_a_second_lookup(
    ward, receiver, monkeypatch, django_capture_on_commit_callbacks
):
    """DNS rebinding: a name that answers one address to the check and another to the connection."""
    real = socket.getaddrinfo
    lookups: list[str] = []

    def rebinding(host, *args, **kwargs):
        if host != "hooks.example.test":
            return real(host, *args, **kwargs)  # the address literal the connection is made to
        lookups.append(host)
        address = "127.0.0.1" if len(lookups) % 2 else "10.255.255.1"  # every second answer points elsewhere
        return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, 0))]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    port = receiver.server.server_port
    subscription = _subscribe(ward.coordinator, f"http://hooks.example.test:{port}/hooks/rounds?k=1", ["visit.cancelled"])
    lookups.clear()
    with travel("09:00"):
        now = _deliver_a_cancel(ward, ward.home, django_capture_on_commit_callbacks)
    assert lookups == ["hooks.example.test"]  # one lookup per attempt: the check's
    (headers, body), = receiver.requests
    assert headers["Host"] == f"hooks.example.test:{port}"
    assert _verified(subscription["secret"], headers, body, now)


def _resolve_to_loopback(monkeypatch, name: str) -> None:
    real = socket.getaddrinfo
    monkeypatch.setattr(
        socket, "getaddrinfo", lambda host, *a, **k: real("127.0.0.1" if host == name else host, *a, **k)
    )


@pytest.mark.parametrize(("certified_name", "trusted", "delivered"), [
    ("hooks.example.test", True, True),
    ("elsewhere.example.test", True, False),  # a trusted certificate for another name
    ("hooks.example.test", False, False),  # the right name from an authority nobody trusts
])
def test_https_deliveries_check_the_certificate_against_the_endpoints_name(
    ward, monkeypatch, django_capture_on_commit_callbacks, tmp_path, certified_name, trusted, delivered
):
    import certifi
    import trustme

    authority = trustme.CA()
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert(certified_name).configure_cert(server_tls)
    roots = tmp_path / "roots.pem"
    (authority if trusted else trustme.CA()).cert_pem.write_to_path(str(roots))
    monkeypatch.setattr(certifi, "where", lambda: str(roots))  # the machine's trust store, for this test
    _resolve_to_loopback(monkeypatch, "hooks.example.test")
    with Receiver(tls=server_tls).running() as receiver:
        url = f"https://hooks.example.test:{receiver.server.server_port}/hooks/rounds"
        _subscribe(ward.coordinator, url, ["visit.cancelled"])
        with travel("09:00"):
            _deliver_a_cancel(ward, ward.home, django_capture_on_commit_callbacks)
    (delivery,) = m.WebhookDelivery.objects.all()
    assert len(receiver.requests) == (1 if delivered else 0)
    if delivered:
        assert delivery.status == m.SendStatus.SENT
    else:
        assert delivery.status == m.SendStatus.PENDING and "SSL" in delivery.last_error, delivery.last_error
