"""Feed tokens (and credentials a client puts in a query string) never reach a log line.

Each test writes through the logging the project configures, not through pytest's capture: the root's "console"
handler from settings.LOGGING, Django's runserver request handler, and a real gunicorn started from the project
directory, which reads gunicorn.conf.py.
"""
from __future__ import annotations

import io
import logging
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.core.cache import cache
from django.core.servers.basehttp import WSGIRequestHandler

from api.feeds.views import FeedRateThrottle
from dispatch.services.feed_tokens import feed_token_revoke, feed_token_rotate

ROOT = Path(__file__).resolve().parents[2]
START_S = 90


@pytest.fixture
def console():
    """The root's handler as settings.LOGGING configures it (its filters included), writing into a buffer."""
    handlers = [h for h in logging.getLogger().handlers if h.get_name() == "console"]
    assert len(handlers) == 1, "settings.LOGGING gives the root logger one handler named console"
    buffer = io.StringIO()
    previous = handlers[0].setStream(buffer)
    yield buffer
    handlers[0].setStream(previous)


def test_django_request_log_lines_through_the_configured_handler_have_no_feed_token(
    anonymous_client, therapist, console, monkeypatch
):
    """Django logs 4xx request paths ("Not Found: /feeds/…") to the root's handler."""
    cache.clear()
    _, token = feed_token_rotate(therapist=therapist)
    monkeypatch.setitem(FeedRateThrottle.THROTTLE_RATES, "feed", "1/min")
    url = f"/feeds/therapists/{token}.ics"
    assert anonymous_client.get(url).status_code == 200
    assert anonymous_client.get(url).status_code == 429  # logged as a warning with the path
    feed_token_revoke(therapist=therapist)
    cache.clear()
    assert anonymous_client.get(url).status_code == 404  # logged with the path
    written = console.getvalue()
    assert "Too Many Requests: /feeds/therapists/<redacted>" in written
    assert "Not Found: /feeds/therapists/<redacted>" in written
    assert token not in written and token[:20] not in written


def test_runservers_access_line_through_the_configured_handler_has_no_feed_token(console):
    """`make run` serves with runserver, whose request handler logs every request line to "django.server"."""
    token = secrets.token_urlsafe(32)
    handler = WSGIRequestHandler.__new__(WSGIRequestHandler)  # the real class, without a socket behind it
    handler.request, handler.requestline = None, f"GET /feeds/facilities/{token}.ics?travel=0 HTTP/1.1"
    handler.log_request(200, 4312)
    written = console.getvalue()
    assert '"GET /feeds/facilities/<redacted>?travel=0 HTTP/1.1" 200 4312' in written
    assert token not in written


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_gunicorns_access_and_error_logs_have_no_feed_token(tmp_path):
    """Production serves with gunicorn, whose access log writes the raw request line, query string included."""
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DJANGO_SETTINGS_MODULE")},
        "DJANGO_SETTINGS_MODULE": "config.settings.base",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
    }
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True, timeout=300
    )
    port, access_log = _free_port(), tmp_path / "access.log"
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi", "-b", f"127.0.0.1:{port}", "-w", "1",
         "--access-logfile", str(access_log), "--error-logfile", "-"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    feed_token, other_secret = secrets.token_urlsafe(32), secrets.token_urlsafe(16)
    try:
        deadline = time.monotonic() + START_S
        while True:
            assert server.poll() is None, server.stdout.read()
            try:
                if _get(f"http://127.0.0.1:{port}/healthz") == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "gunicorn did not answer"
            time.sleep(0.3)
        # Whether the token is valid or not, it is the secret a calendar client sends.
        assert _get(f"http://127.0.0.1:{port}/feeds/therapists/{feed_token}.ics?travel=0") == 404
        assert _get(f"http://127.0.0.1:{port}/healthz?token={other_secret}") == 200
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=60)
    access = access_log.read_text()
    assert '"GET /feeds/therapists/<redacted>?travel=0 HTTP/1.1" 404' in access, access
    assert '"GET /healthz?token=<redacted> HTTP/1.1" 200' in access, access
    # Django's own line for the 404, written by the configured LOGGING inside the gunicorn worker.
    assert "Not Found: /feeds/therapists/<redacted>" in output, output
    for secret in (feed_token, other_secret):
        assert secret not in access and secret not in output
