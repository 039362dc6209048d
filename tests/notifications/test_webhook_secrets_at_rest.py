"""Webhook signing secrets are encrypted in the database: a copy of it (a backup, a read replica, a leaked dump)
signs nothing; the server still reads them back to sign, and says so loudly when its key cannot."""
from __future__ import annotations

import importlib
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.core.exceptions import ImproperlyConfigured
from django.db import connection

from dispatch import models as m
from tests.conftest import _client_for
from tests.notifications.receiver import Receiver

FIELDS = [m.WebhookSubscription._meta.get_field(name) for name in ("secret", "previous_secret")]


def _stored(pk: int) -> tuple[str, str | None]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret, previous_secret FROM dispatch_webhooksubscription WHERE id = %s", [pk])
        return cursor.fetchone()


@pytest.fixture
def made(ward):
    """A subscription made through the API, as its answer showed it (the secret, this once)."""
    with Receiver().running() as receiver:
        response = _client_for(ward.coordinator).post(
            "/api/v1/webhooks", {"url": receiver.url, "events": ["visit.moved"]}, format="json"
        )
        assert response.status_code == 201, response.data
        yield response.data


@pytest.fixture
def keys_reread():
    """The fields derive their keys once per process; a test that changes SECRET_KEY makes them derive again."""
    def forget() -> None:
        for field in FIELDS:
            field.__dict__.pop("keys", None)
            field.__dict__.pop("f", None)

    forget()
    yield forget
    forget()


def test_a_subscriptions_secret_and_its_rotated_predecessor_are_stored_encrypted(ward, made):
    client = _client_for(ward.coordinator)
    secret, previous = _stored(made["id"])
    assert made["secret"] not in secret and secret.startswith("gAAAAA") and previous is None
    assert m.WebhookSubscription.objects.get(pk=made["id"]).secret == made["secret"]

    rotated = client.post(f"/api/v1/webhooks/{made['id']}/rotate-secret", {"keep_previous_for_s": 600},
                          format="json").data
    secret, previous = _stored(made["id"])
    assert rotated["secret"] not in secret and made["secret"] not in previous
    subscription = m.WebhookSubscription.objects.get(pk=made["id"])
    assert (subscription.secret, subscription.honoured_previous_secrets()) == (rotated["secret"], (made["secret"],))


def test_a_secret_no_key_opens_is_refused_loudly_and_an_old_key_listed_as_fallback_opens_it(
    made, settings, keys_reread
):
    old_key = settings.SECRET_KEY
    settings.SECRET_KEY = "a-new-key-after-a-rotation-" + "x" * 30
    keys_reread()
    with pytest.raises(ImproperlyConfigured, match="DJANGO_SECRET_KEY_FALLBACKS"):
        m.WebhookSubscription.objects.get(pk=made["id"])
    settings.SECRET_KEY_FALLBACKS = [old_key]
    keys_reread()
    assert m.WebhookSubscription.objects.get(pk=made["id"]).secret == made["secret"]


def test_the_migration_encrypts_secrets_written_in_clear_before_it(made):
    with connection.cursor() as cursor:  # as a row of 0012 held it
        cursor.execute("UPDATE dispatch_webhooksubscription SET secret = %s, previous_secret = %s WHERE id = %s",
                       ["ab" * 32, "", made["id"]])
    migration = importlib.import_module("dispatch.migrations.0013_webhook_secrets_encrypted")
    migration.encrypt_existing(apps, SimpleNamespace(connection=connection))  # it uses only the connection
    secret, previous = _stored(made["id"])
    assert secret.startswith("gAAAAA") and previous is None
    assert m.WebhookSubscription.objects.get(pk=made["id"]).secret == "ab" * 32
