"""Feeds through the application gunicorn serves (config.wsgi): the short middleware chain, and every other path
still through the whole of it."""
from __future__ import annotations

import io
import sys

import pytest

from django.conf import settings

from config.wsgi import application
from dispatch.services.feed_tokens import feed_token_revoke
from tests.feeds.conftest import local_at, scheduled_visit

pytestmark = pytest.mark.usefixtures("wsgi_keeps_the_test_connection")


def _get(path: str, method: str = "GET", **headers) -> tuple[int, dict, bytes]:
    environ = {
        "REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": "", "SERVER_NAME": "localhost",
        "SERVER_PORT": "80", "HTTP_HOST": "localhost", "REMOTE_ADDR": "127.0.0.1", "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""), "wsgi.errors": sys.stderr,
        **{f"HTTP_{name.upper().replace('-', '_')}": value for name, value in headers.items()},
    }
    answered = {}

    def start_response(status, response_headers, exc_info=None):
        answered["status"], answered["headers"] = int(status.split()[0]), response_headers

    body = b"".join(application(environ, start_response))
    names = {}
    for name, value in answered["headers"]:
        names.setdefault(name.lower(), []).append(value)
    return answered["status"], names, body


def test_a_feed_poll_takes_the_short_way_and_answers_as_before(
    therapist, therapist_feed, django_assert_max_num_queries
):
    scheduled_visit(therapist=therapist, start=local_at(1, "10:00"))
    status, headers, body = _get(f"/feeds/therapists/{therapist_feed[1]}.ics")
    assert status == 200 and body.startswith(b"BEGIN:VCALENDAR") and b"SUMMARY" in body
    assert headers["content-type"][0].startswith("text/calendar")
    # The security headers a feed needs are still set; nothing of a browser's session is.
    assert headers["x-content-type-options"] == ["nosniff"] and headers["referrer-policy"] == ["same-origin"]
    assert "set-cookie" not in headers and "vary" not in headers and "content-security-policy" not in headers

    with django_assert_max_num_queries(0):
        status, again, body = _get(f"/feeds/therapists/{therapist_feed[1]}.ics", If_None_Match=headers["etag"][0])
    assert status == 304 and body == b"" and again["etag"] == headers["etag"]


def test_a_revoked_feed_answers_404_on_the_short_way(therapist, therapist_feed):
    assert _get(f"/feeds/therapists/{therapist_feed[1]}.ics")[0] == 200
    feed_token_revoke(therapist=therapist)
    assert _get(f"/feeds/therapists/{therapist_feed[1]}.ics")[0] == 404
    assert _get("/feeds/therapists/not-a-token.ics")[0] == 404


def test_every_other_path_still_takes_the_whole_middleware(db):
    status, headers, _ = _get("/accounts/login/")
    assert status == 200
    assert "content-security-policy" in headers and any("csrftoken" in c for c in headers.get("set-cookie", []))


def test_the_short_chain_is_the_head_of_middleware():
    chain = settings.ROUNDS_FEED_MIDDLEWARE
    assert settings.MIDDLEWARE[: len(chain)] == chain
    assert "django.contrib.sessions.middleware.SessionMiddleware" not in chain


def test_odd_requests_on_the_short_way_get_their_answers_not_a_500(therapist_feed):
    """No session, CSRF or login middleware here: a page that needed them would fail, so no route but the feeds'
    answers under /feeds/, and a write is refused as on the long way."""
    for path in ("/feeds/", "/feeds/nothing-here", "/feeds/therapists/../../admin/", "/feeds/../accounts/login/"):
        assert _get(path)[0] == 404, path
    assert _get(f"/feeds/therapists/{therapist_feed[1]}.ics", method="POST")[0] == 405
    assert _get(f"/feeds/therapists/{therapist_feed[1]}.ics", method="HEAD")[0] == 200


def test_a_host_outside_allowed_hosts_is_refused_on_the_short_way_too(therapist_feed):
    assert _get(f"/feeds/therapists/{therapist_feed[1]}.ics", Host="evil.example")[0] == 400
    assert _get("/healthz", Host="evil.example")[0] == 400
