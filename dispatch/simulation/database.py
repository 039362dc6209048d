"""A database of the run's own: Django's test-database machinery, so no real database is touched.

SQLite: an in-memory database. PostgreSQL: a database named after this process, created, migrated
and dropped again (never the configured one, nor the test database the suite uses).
"""

from __future__ import annotations

import os
from contextlib import contextmanager

from django.db import connections
from django.test.utils import setup_databases, teardown_databases


@contextmanager
def throwaway():
    settings_dict = connections["default"].settings_dict
    if settings_dict["ENGINE"] != "django.db.backends.sqlite3":
        settings_dict.setdefault("TEST", {})["NAME"] = f"{settings_dict['NAME']}_simulation_{os.getpid()}"
        # A throwaway database need not wait for each commit to reach the disk.
        options = settings_dict.setdefault("OPTIONS", {})
        options["options"] = f"{options.get('options', '')} -c synchronous_commit=off".strip()
    databases = setup_databases(
        verbosity=0, interactive=False, keepdb=False, aliases={"default"}, serialized_aliases=set()
    )
    try:
        yield
    finally:
        teardown_databases(databases, verbosity=0)
