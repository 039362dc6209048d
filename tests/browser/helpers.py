"""Steps every browser test takes the way a person does: log in through the form."""
from __future__ import annotations

PASSWORD = "pw-rounds-test"  # the factories' password


def log_in(page, live_server, username: str, path: str, password: str = PASSWORD) -> None:
    page.goto(f"{live_server.url}/accounts/login/?next={path}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_load_state()


def no_sideways_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
