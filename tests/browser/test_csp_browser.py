"""Under the Content-Security-Policy (django-csp) the board, the admin and the API docs still work in Chromium,
and the browser reports no violation: every script and stylesheet they use is served from our own origin."""
from __future__ import annotations

import pytest

from dispatch import models as m
from dispatch.demo.seed import DEMO_PASSWORD, demo_seed
from tests import factories as f

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def demo():
    return demo_seed(day=f.tomorrow(), seed=7, visits=20)


def _watch(page) -> tuple[list[str], list[str]]:
    """Violations the console reports, and the policy each HTML page was served with."""
    violations: list[str] = []
    policies: list[str] = []
    page.on("console", lambda msg: violations.append(msg.text) if "Content Security Policy" in msg.text else None)
    page.on(
        "response",
        lambda r: policies.append(r.headers.get("content-security-policy", ""))
        if r.request.resource_type == "document" else None,
    )
    return violations, policies


def _strict(policies: list[str]) -> bool:
    return bool(policies) and all("script-src 'self'" in p and "unsafe" not in p.split("script-src")[1].split(";")[0]
                                  for p in policies)


def _login(page, live_server, path: str) -> None:
    page.goto(f"{live_server.url}/accounts/login/?next={path}")
    page.fill("input[name=username]", "coordinator")
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("button[type=submit]")


def test_the_board_runs_under_the_policy(new_page, live_server, demo):
    page = new_page(1400, 1000)
    violations, policies = _watch(page)
    _login(page, live_server, f"/board/?date={demo.day}")
    page.wait_for_selector(".row")
    page.wait_for_selector("#unassigned li")
    assert _strict(policies), policies
    assert violations == []


def test_the_admin_change_form_runs_under_the_policy(new_page, live_server, demo):
    patient = m.Patient.objects.filter(organization=demo.organization).first()
    page = new_page(1400, 1000)
    violations, policies = _watch(page)
    _login(page, live_server, f"/admin/dispatch/patient/{patient.pk}/change/")
    # filter_horizontal's two-box selector is drawn by the admin's JavaScript.
    page.wait_for_selector("#id_preferred_therapists_from")
    assert _strict(policies), policies
    assert violations == []


def test_swagger_ui_loads_from_our_own_static_files(new_page, live_server, demo):
    page = new_page(1400, 1000)
    violations, policies = _watch(page)
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    _login(page, live_server, "/api/docs/")
    page.wait_for_selector(".swagger-ui .opblock", timeout=30_000)
    assert _strict(policies), policies
    assert violations == []
    assert all(url.startswith(live_server.url) or url.startswith("data:") for url in requested), requested
