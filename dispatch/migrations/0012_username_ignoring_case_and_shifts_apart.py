"""Two rules that validation checked but the database did not, so two requests at once could both pass.

Usernames are unique whatever their case (sign-in compares them exactly; "Farah" beside "farah" would be two
people nobody can tell apart). A therapist's weekly shifts on one weekday never overlap: PostgreSQL holds it with
an exclusion constraint, as it does for bookings (0003); SQLite takes each request's write lock when the request
begins (transaction_mode IMMEDIATE), so there the model's clean() cannot race.
"""
import django.db.models.functions.text
from django.db import migrations, models

CREATE = """
CREATE EXTENSION IF NOT EXISTS btree_gist;
ALTER TABLE dispatch_weeklyavailability ADD CONSTRAINT weekly_availability_shifts_apart
    EXCLUDE USING gist (
        therapist_id WITH =,
        weekday WITH =,
        tsrange(DATE '2000-01-03' + start_time, DATE '2000-01-03' + end_time, '[)') WITH &&
    );
"""
DROP = "ALTER TABLE dispatch_weeklyavailability DROP CONSTRAINT IF EXISTS weekly_availability_shifts_apart;"


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):

    dependencies = [
        ('auth', '0012_alter_user_first_name_max_length'),
        ('dispatch', '0011_webhook_previous_secret'),
    ]

    operations = [
        migrations.AddConstraint(
            model_name='user',
            constraint=models.UniqueConstraint(
                django.db.models.functions.text.Lower('username'), name='user_username_unique_ignoring_case',
                violation_error_message=(
                    'A user with this username already exists (usernames do not differ by case alone).'
                ),
            ),
        ),
        migrations.RunPython(forwards, backwards),
    ]
