"""`make test` on SQLite ends by saying how many PostgreSQL-only tests it skipped (tests/conftest.py)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
POSTGRES_ONLY = [
    "tests/day/test_booking.py::test_the_exclusion_constraint_raises_slot_taken_inside_the_transaction",
    "tests/unit/test_database_outage.py::test_the_service_recovers_when_the_database_drops_its_connections",
]


def test_a_run_on_sqlite_ends_with_the_count_of_postgresql_only_tests_skipped_and_the_command_to_run_them():
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "PYTEST_ADDOPTS")}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", *POSTGRES_ONLY],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    last_lines = result.stdout.strip().splitlines()[-2:]
    assert "2 PostgreSQL-only tests skipped: run `make test-pg`" in last_lines[0], result.stdout
    assert "2 skipped" in last_lines[1]
