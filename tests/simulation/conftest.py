from __future__ import annotations

import pytest
from django.db import connection


@pytest.fixture(autouse=True)
def _commits_need_not_reach_the_disk(django_db_setup, django_db_blocker):
    """The test database is thrown away; on PostgreSQL a simulated day commits a thousand times."""
    if connection.vendor == "postgresql":
        with django_db_blocker.unblock(), connection.cursor() as cursor:
            cursor.execute("SET synchronous_commit TO OFF")
    yield
