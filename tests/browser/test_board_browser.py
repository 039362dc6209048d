"""The board in headless Chromium against a live server with the demo region."""
from __future__ import annotations

import pytest

from dispatch import models as m
from dispatch.demo.seed import DEMO_PASSWORD, demo_seed
from tests import factories as f

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def demo():
    return demo_seed(day=f.tomorrow(), seed=7, visits=60)


def _login(page, live_server, username: str, path: str) -> None:
    page.goto(f"{live_server.url}{path}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("button[type=submit]")


def test_a_coordinator_plans_and_applies_the_day_on_the_board(browser, live_server, demo, screenshot):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    _login(page, live_server, "coordinator", f"/board/?date={demo.day}")
    page.wait_for_selector(".row")
    assert page.locator(".row").count() == 12
    names = set(m.Therapist.objects.filter(organization=demo.organization).values_list("display_name", flat=True))
    assert {page.locator(".row .name").nth(i).inner_text() for i in range(12)} == names
    assert page.locator(".visit").count() == 0
    page.wait_for_selector("#unassigned li")
    screenshot(page, "board-before-plan")

    page.fill("#time-limit", "2")
    page.click("#plan")
    page.wait_for_selector("#apply:not([hidden])", timeout=60_000)
    assert "ready" in page.locator("#plan-status").inner_text()
    page.click("#apply")
    page.wait_for_selector(".visit", timeout=30_000)
    assert "applied" in page.locator("#plan-status").inner_text()
    scheduled = m.Visit.objects.filter(organization=demo.organization, status=m.VisitStatus.SCHEDULED).count()
    assert page.locator(".visit").count() == scheduled > 0
    assert page.locator("#map polyline").count() > 0
    screenshot(page, "board-after-apply")

    page.locator(".visit").first.click()
    page.wait_for_selector("#details:not([hidden])")
    panel = page.locator("#details").inner_text()
    assert "Where" in panel and "Duration" in panel
    assert "Metastatic" not in panel and "cancer" not in panel.lower()
    screenshot(page, "board-visit-details")


def test_a_therapist_reads_their_own_day_on_a_phone(browser, live_server, demo, screenshot):
    from dispatch.services.plans import plan_run_apply, plan_run_create

    run = plan_run_create(organization=demo.organization, day=demo.day, created_by=None, time_limit_s=1)
    plan_run_apply(plan_run=run, applied_by=None)
    therapist = m.Therapist.objects.get(user__username="therapist1")
    own = m.Visit.objects.filter(therapist=therapist, date=demo.day).count()

    page = browser.new_page(viewport={"width": 390, "height": 844})
    _login(page, live_server, "therapist1", f"/board/?date={demo.day}")
    page.wait_for_selector(".row")
    screenshot(page, "board-therapist-phone")
    assert own > 0
    assert page.locator(".row").count() == 1
    assert page.locator(".visit").count() == own
    assert page.locator("#plan").count() == 0 and page.locator("#map").count() == 0
    # A card across the phone, not a sliver of a timeline.
    assert page.locator(".visit").first.bounding_box()["width"] > 300
