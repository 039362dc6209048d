"""Steps every browser test takes the way a person does: log in through the form."""
from __future__ import annotations

import time

PASSWORD = "pw-rounds-test"  # the factories' password


def wait_until(page, expression: str, timeout_s: float = 30) -> None:
    """Poll ``expression`` until it is true. Playwright's wait_for_function compiles its predicate with eval,
    which the pages' Content-Security-Policy refuses; page.evaluate is not subject to it."""
    deadline = time.monotonic() + timeout_s
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"still false after {timeout_s} s: {expression}"
        page.wait_for_timeout(100)


def log_in(page, live_server, username: str, path: str, password: str = PASSWORD) -> None:
    page.goto(f"{live_server.url}/accounts/login/?next={path}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_load_state()


def no_sideways_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


BUSY = '{"detail": "Service unavailable."}'


def busy_once(answers: list[int], *, body: str = BUSY, content_type: str = "application/json"):
    """A route handler: the first request is answered 503 (a restart, a busy database), the rest reach the server;
    ``answers`` records what each got."""

    def handle(route) -> None:
        if not answers:
            answers.append(503)
            route.fulfill(status=503, content_type=content_type, body=body)
        else:
            answers.append(200)
            route.continue_()

    return handle
