"""Webhook signing secrets encrypted at rest (they were kept in clear).

The columns become text wide enough for a Fernet token; each subscription is saved once so that its secrets,
read as they were (a value no key opens is read as stored), are written back encrypted.
"""
import dispatch.models.encrypted
from django.db import migrations


def encrypt_existing(apps, schema_editor):
    subscriptions = apps.get_model("dispatch", "WebhookSubscription").objects.using(schema_editor.connection.alias)
    for subscription in subscriptions.all():
        subscription.previous_secret = subscription.previous_secret or None
        subscription.save(update_fields=["secret", "previous_secret"])


def decrypt_back(apps, schema_editor):
    """Back to the clear columns: each secret read through the field (decrypted) and written as it is."""
    subscriptions = apps.get_model("dispatch", "WebhookSubscription").objects.using(schema_editor.connection.alias)
    table = schema_editor.quote_name("dispatch_webhooksubscription")
    with schema_editor.connection.cursor() as cursor:
        for subscription in subscriptions.all():
            cursor.execute(f"UPDATE {table} SET secret = %s, previous_secret = %s WHERE id = %s",
                           [subscription.secret, subscription.previous_secret or "", subscription.pk])


class Migration(migrations.Migration):

    dependencies = [
        ('dispatch', '0012_username_ignoring_case_and_shifts_apart'),
    ]

    operations = [
        migrations.AlterField(
            model_name='webhooksubscription',
            name='previous_secret',
            field=dispatch.models.encrypted.SecretField(blank=True, max_length=64, null=True),
        ),
        migrations.AlterField(
            model_name='webhooksubscription',
            name='secret',
            field=dispatch.models.encrypted.SecretField(max_length=64),
        ),
        migrations.RunPython(encrypt_existing, decrypt_back),
    ]
