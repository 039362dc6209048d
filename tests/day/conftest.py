from __future__ import annotations

import pytest
from django.db import connection


@pytest.fixture(autouse=True)
def _postgres_only(request):
    """Tests marked postgres need PostgreSQL's exclusion constraint and real row locks."""
    if request.node.get_closest_marker("postgres") and connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (run with DATABASE_URL=postgres://...): SQLite has no exclusion constraint")
