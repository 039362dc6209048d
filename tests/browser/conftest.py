from __future__ import annotations

import contextlib
import os
import threading
import time
from pathlib import Path

import pytest
from django.core.servers.basehttp import ThreadedWSGIServer
from django.db.backends.signals import connection_created

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
# Chromium as root, headless, with nothing reaching out to the network.
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1400, "height": 1000}
# Axe's impacts that block a user outright or nearly; minor and moderate ones are reported, not failed.
BLOCKING_IMPACTS = {"serious", "critical"}


# Held by a live-server request for all of it, and by the test's own thread for each of its queries (re-entrant: a
# request's queries run under its hold).
_SHARED_CONNECTION = threading.RLock()


class _OneRequestAtATimeOnSharedSQLite(ThreadedWSGIServer):
    """On the in-memory SQLite of the default `make test`, the live server's request threads and the test itself all
    use the test's one connection (nothing else can see the test's data). Two requests at once then meet inside one
    transaction ("cannot start a transaction within a transaction"), and a test's read beside a request's write meets
    "database table is locked" (both answered 503). A page's requests often overlap (the phone app's data, its
    service worker, a poll), so on a shared connection the server takes them one at a time and the test's queries
    wait for the request under way; with PostgreSQL each thread has its own connection and nothing is serialised.
    Production SQLite is a file: one connection a thread, and the write lock waited for."""

    def __init__(self, *args, connections_override=None, **kwargs):
        super().__init__(*args, connections_override=connections_override, **kwargs)
        self._shared = bool(connections_override)

    def set_app(self, application):
        if not self._shared:
            return super().set_app(application)

        def serialised(environ, start_response):
            with _SHARED_CONNECTION:
                return application(environ, start_response)

        super().set_app(serialised)


def _after_the_request_under_way(execute, sql, params, many, context):
    with _SHARED_CONNECTION:
        return execute(sql, params, many, context)


def _waits_for_the_request_under_way(sender, connection, **kwargs):
    """A thread a request starts (the plan run's, without a broker) opens its own connection to the same shared
    in-memory database, whose table locks refuse a write at once ("database table is locked") while a request
    reads: its queries wait for the request under way too, as the test's own do."""
    if connection.vendor == "sqlite" and connection.is_in_memory_db():
        connection.execute_wrappers.append(_after_the_request_under_way)


@pytest.fixture(scope="session", autouse=True)
def _live_server_serialised_on_shared_sqlite():
    from django.test.testcases import LiveServerThread

    original = LiveServerThread.server_class
    LiveServerThread.server_class = _OneRequestAtATimeOnSharedSQLite
    yield
    LiveServerThread.server_class = original


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing: `make test` installs Debian's chromium")
    # Playwright's sync API runs an event loop in this thread; Django's ORM calls from the
    # test body are still synchronous and safe.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            yield browser
            browser.close()
    finally:
        # Only for these tests: anything started later (a deploy check) must not inherit it.
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


@pytest.fixture
def new_page(browser, live_server):
    """Pages closed before the live server stops, so no request thread outlives its database connection.

    A script error on any page fails the test: a screen that throws has not done what it shows.
    """
    from django.db import connection

    contexts, errors = [], []
    shared = connection.vendor == "sqlite" and connection.is_in_memory_db()
    waiting = connection.execute_wrapper(_after_the_request_under_way) if shared else contextlib.nullcontext()
    waiting.__enter__()
    if shared:
        connection_created.connect(_waits_for_the_request_under_way)

    def make(width: int, height: int, **options):
        context = browser.new_context(viewport={"width": width, "height": height}, **options)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda e: errors.append(str(e)))
        return page

    try:
        yield make
    finally:
        waiting.__exit__(None, None, None)
        connection_created.disconnect(_waits_for_the_request_under_way)
    for context in contexts:
        context.close()
    _wait_for_requests_in_flight()
    assert not errors, f"script errors on the page: {errors}"


def _wait_for_requests_in_flight(limit_s: float = 30.0) -> None:
    """A closed page may leave a request running in the live server; the database flush that follows the test
    then meets its lock ("database table is locked" on SQLite). The server runs each request in a thread of
    socketserver's, named after process_request_thread, so wait until none is left (a cap, not a timing test)."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if not any("process_request_thread" in t.name for t in threading.enumerate()):
            return
        time.sleep(0.05)


@pytest.fixture
def screenshot():
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def take(page, name: str, *, full_page: bool = True) -> Path:
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        return path

    return take


@pytest.fixture
def accessible():
    """Axe (axe-core, shipped inside axe-playwright-python) finds nothing serious or critical on the page;
    and the page is ready for a strict Content-Security-Policy: no inline script, no inline handler."""
    from axe_playwright_python.sync_playwright import Axe

    axe = Axe()

    def check(page, what: str) -> None:
        results = axe.run(page)
        blocking = [
            f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
            for v in results.response["violations"] if v["impact"] in BLOCKING_IMPACTS
        ]
        assert not blocking, f"{what}: {blocking}"
        inline = page.evaluate(
            """() => ({
                scripts: [...document.scripts].filter(s => !s.src && s.type !== 'application/json').length,
                handlers: [...document.querySelectorAll('*')].flatMap(e => [...e.attributes])
                    .filter(a => a.name.startsWith('on')).map(a => a.name),
            })"""
        )
        assert inline == {"scripts": 0, "handlers": []}, f"{what}: inline code {inline}"

    return check
