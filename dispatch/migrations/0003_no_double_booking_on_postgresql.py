"""A therapist can never hold two overlapping visits (time plus interruption buffer).

PostgreSQL holds this itself with an exclusion constraint; SQLite has no such
constraint, so there the booking services check inside their transaction. It is
deferred to commit so that a plan apply may move many visits in one transaction.
"""
from django.db import migrations

CREATE = """
CREATE EXTENSION IF NOT EXISTS btree_gist;
ALTER TABLE dispatch_visit ADD CONSTRAINT visit_no_double_booking
    EXCLUDE USING gist (
        therapist_id WITH =,
        tstzrange(planned_start, planned_busy_until, '[)') WITH &&
    )
    WHERE (status IN ('scheduled', 'confirmed', 'in_progress', 'completed'))
    DEFERRABLE INITIALLY DEFERRED;
"""
DROP = "ALTER TABLE dispatch_visit DROP CONSTRAINT IF EXISTS visit_no_double_booking;"


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("dispatch", "0002_standard_skills")]
    operations = [migrations.RunPython(forwards, backwards)]
