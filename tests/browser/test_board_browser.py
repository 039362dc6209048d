"""The board in headless Chromium against a live server with the demo region."""
from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.utils import timezone

from dispatch import models as m
from dispatch.demo.seed import DEMO_PASSWORD, demo_seed
from tests import factories as f

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def demo():
    return demo_seed(day=f.tomorrow(), seed=7)


def _login(page, live_server, username: str, path: str) -> None:
    page.goto(f"{live_server.url}{path}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("button[type=submit]")


def _plan(page, seconds: str, screenshot=None) -> None:
    page.fill("#time-limit", seconds)
    page.click("#plan")
    page.wait_for_selector("#plan-status:has-text('best cost')", timeout=30_000)
    assert f"of {seconds} s" in page.locator("#plan-status").inner_text()
    if screenshot:
        screenshot(page, "board-plan-running")
    page.wait_for_selector("#apply:not([hidden])", timeout=60_000)
    assert "ready" in page.locator("#plan-status").inner_text()
    assert page.locator("#plan-progress").is_hidden()
    # The solver's thread may still hold a read on SQLite's shared in-memory database; writes wait for it.
    for thread in threading.enumerate():
        if thread.name.startswith("plan-run-"):
            thread.join(timeout=10)


def test_a_coordinator_plans_and_applies_the_day_on_the_board(new_page, live_server, demo, screenshot, settings):
    settings.ROUNDS_PLAN_IN_PROCESS = "thread"  # as without a broker: the board polls while the solver runs
    page = new_page(1400, 1000)
    _login(page, live_server, "coordinator", f"/board/?date={demo.day}")
    page.wait_for_selector(".row")
    assert page.locator(".row").count() == 12
    names = set(m.Therapist.objects.filter(organization=demo.organization).values_list("display_name", flat=True))
    assert {page.locator(".row .name").nth(i).inner_text() for i in range(12)} == names
    assert page.locator(".visit").count() == 0
    page.wait_for_selector("#unassigned li")
    # The time axis starts at the hour of the earliest shift, not at a fixed hour.
    earliest = page.evaluate(
        f"fetch('/board/data?date={demo.day}').then(r => r.json())"
        ".then(d => Math.min(...d.therapists.flatMap(t => t.shifts.map(s => +s.start.slice(11, 13)))))"
    )
    assert page.locator(".hours .tick").first.inner_text() == f"{earliest}:00"
    assert "150 × not planned" in page.locator("#unassigned-summary").inner_text()
    screenshot(page, "board-before-plan")

    # A request that arrives while the plan runs makes it stale: the 409's detail is shown, nothing changes.
    _plan(page, "2")
    late = f.VisitFactory(organization=demo.organization, date=demo.day)
    loads = page.evaluate("+document.body.dataset.loads")
    page.click("#apply")
    page.wait_for_selector("#plan-status:has-text('Not applied')")
    assert str(late.pk) in page.locator("#plan-status").inner_text()
    page.wait_for_function(f"+document.body.dataset.loads > {loads}")
    assert page.locator(".visit").count() == 0

    _plan(page, "2", screenshot)  # the late request is part of this one
    # Before the apply, requests the plan placed say so; the rest carry the planner's reason.
    assert "planned not applied" in page.locator("#unassigned-summary").inner_text()
    assert "× not planned" not in page.locator("#unassigned-summary").inner_text()
    page.click("#apply")
    page.wait_for_selector(".visit", timeout=30_000)
    assert "applied" in page.locator("#plan-status").inner_text()
    scheduled = m.Visit.objects.filter(organization=demo.organization, status=m.VisitStatus.SCHEDULED).count()
    assert page.locator(".visit").count() == scheduled > 0
    assert page.locator("#map polyline").count() > 0
    assert page.locator("#map rect").count() == m.Facility.objects.filter(organization=demo.organization).count()
    assert "facility" in page.locator("#map-legend").inner_text()
    screenshot(page, "board-after-apply")

    page.locator(".visit").first.click()
    page.wait_for_selector("#details:not([hidden])")
    panel = page.locator("#details").inner_text()
    assert "Where" in panel and "Duration" in panel
    assert "Metastatic" not in panel and "cancer" not in panel.lower()
    screenshot(page, "board-visit-details")
    page.keyboard.press("Escape")
    assert page.locator("#details").is_hidden()

    # Picking a therapist brings their route forward; a home visit's dot on the map opens its details.
    row = page.locator(".row", has=page.locator(".visit")).first
    therapist_id = row.get_attribute("data-therapist")
    row.locator(".name").click()
    assert page.locator(f"#map polyline.picked[data-therapist='{therapist_id}']").count() == 1
    assert page.locator("#map polyline.faded").count() == page.locator("#map polyline").count() - 1
    screenshot(page, "board-route-picked")
    page.locator("#map circle.visit-dot").first.dispatch_event("click")
    page.wait_for_selector("#details:not([hidden])")
    assert "Home" in page.locator("#details").inner_text()

    # The next day's button moves the board and the address; the plan's apply belongs to its own day.
    loads = page.evaluate("+document.body.dataset.loads")
    page.click("#next-day")
    page.wait_for_function(f"+document.body.dataset.loads > {loads}")
    assert page.url.endswith(f"?date={demo.day + dt.timedelta(days=1)}")
    assert page.locator(".visit").count() == 0 and page.locator("#details").is_hidden()

    # Today carries a now-line on every row; other days do not.
    assert page.locator(".now").count() == 0
    loads = page.evaluate("+document.body.dataset.loads")
    page.fill("#day", str(timezone.localdate(timezone=demo.organization.tz)))
    page.dispatch_event("#day", "change")
    page.wait_for_function(f"+document.body.dataset.loads > {loads}")
    assert page.locator(".now").count() == 12


def test_a_therapist_reads_their_own_day_on_a_phone(new_page, live_server, demo, screenshot):
    from dispatch.services.plans import plan_run_apply, plan_run_create

    run = plan_run_create(organization=demo.organization, day=demo.day, created_by=None, time_limit_s=1)
    plan_run_apply(plan_run=run, applied_by=None)
    therapist = m.Therapist.objects.get(user__username="therapist1")
    own = m.Visit.objects.filter(therapist=therapist, date=demo.day).count()

    page = new_page(390, 844)
    _login(page, live_server, "therapist1", f"/board/?date={demo.day}")
    page.wait_for_selector(".row")
    screenshot(page, "board-therapist-phone")
    assert own > 0
    assert page.locator(".row").count() == 1
    assert page.locator(".visit").count() == own
    assert page.locator("#plan").count() == 0 and page.locator("#map").count() == 0
    # A card across the phone, not a sliver of a timeline.
    assert page.locator(".visit").first.bounding_box()["width"] > 300
    assert therapist.visits.filter(date=demo.day).order_by("planned_start").first().location_text in (
        page.locator(".visit").first.inner_text()
    )
    # Nothing wider than the phone: no sideways scrolling.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.locator(".visit").first.click()
    page.wait_for_selector("#details:not([hidden])")
    screenshot(page, "board-therapist-phone-details")
