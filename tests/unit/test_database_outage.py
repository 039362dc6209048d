"""The database drops every connection between two requests; the next request still succeeds.

A real server process (runserver) holds persistent connections (CONN_MAX_AGE); PostgreSQL then
terminates them, as a restart or failover does. Django's CONN_HEALTH_CHECKS must notice the dead
connection at the next request and reconnect, with no restart of the service.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from django.db import connection
from knox.models import AuthToken

from tests import factories as f

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, token: str) -> int:
    request = urllib.request.Request(url, headers={"Authorization": f"Token {token}"})
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_service_recovers_when_the_database_drops_its_connections():
    token = AuthToken.objects.create(user=f.UserFactory())[1]
    db = connection.settings_dict
    port = _free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.base",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "DATABASE_CONN_MAX_AGE": "600",
    }
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload", "--nothreading"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/api/v1/me"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                first = _get(url, token)
                break
            except OSError:
                time.sleep(0.3)
        assert first == 200
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            (killed,) = cursor.fetchone()
        assert killed >= 1  # the server's kept connection is gone
        assert _get(url, token) == 200
        assert _get(url, token) == 200
    finally:
        server.terminate()
        server.wait(timeout=20)
