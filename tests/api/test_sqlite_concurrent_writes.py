"""Requests that write at once on the embedded SQLite (what `make run` serves) wait their turn, not 503.

A real server process (runserver, one thread per request) on a file database, as `make run` has it;
the test's own database is in memory, so its rows are copied into a file the server opens.
"""
from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection
from knox.models import AuthToken

from dispatch.models import Visit
from tests import factories as f
from tests.unit.test_database_outage import ROOT, _free_port


def _send(method: str, url: str, token: str, body: dict | None = None) -> tuple[int, dict]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        url, data=data, method=method,
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


@pytest.fixture
def sqlite_server(tmp_path):
    """Start it after the test has written its rows: yields a function that copies them and starts the server."""
    if connection.vendor != "sqlite":
        pytest.skip("about the embedded SQLite")
    servers = []

    def start() -> str:
        path = tmp_path / "db.sqlite3"
        connection.ensure_connection()
        target = sqlite3.connect(path)
        connection.connection.backup(target)
        target.close()
        port = _free_port()
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.base", "DATABASE_URL": f"sqlite:///{path}",
               "REDIS_URL": ""}
        servers.append(subprocess.Popen(
            [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        ))
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"{base}/healthz", timeout=5)
                break
            except urllib.error.HTTPError:
                break
            except OSError:
                time.sleep(0.3)
        return base, path

    yield start
    for server in servers:
        server.terminate()
        server.wait(timeout=20)


@pytest.mark.django_db(transaction=True)
def test_three_visit_requests_at_once_from_one_facility_all_succeed_on_sqlite(sqlite_server):
    org = f.OrganizationFactory()
    facility = f.FacilityFactory(organization=org)
    staff = f.FacilityStaffFactory(organization=org, facility=facility)
    patients = [f.PatientFactory(organization=org, facility=facility) for _ in range(3)]
    token = AuthToken.objects.create(user=staff)[1]
    day = f.VisitFactory(organization=org, patient=patients[0]).date
    base, path = sqlite_server()

    def request(patient) -> tuple[int, dict]:
        body = {"patient": patient.pk, "date": day.isoformat(), "duration_min": 45,
                "windows": [{"start": f.local(day, "13:00").isoformat(), "end": f.local(day, "16:00").isoformat()}]}
        return _send("POST", f"{base}/api/v1/visits", token, body)

    with ThreadPoolExecutor(max_workers=3) as pool:
        answers = list(pool.map(request, patients))

    assert [status for status, _ in answers] == [201, 201, 201], answers
    with sqlite3.connect(path) as db:
        (written,) = db.execute(f"SELECT count(*) FROM {Visit._meta.db_table}").fetchone()
    assert written == 1 + 3
