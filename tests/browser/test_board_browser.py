"""The coordinator's board in headless Chromium against a live server."""
from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.utils import timezone

from dispatch import models as m
from dispatch.demo.seed import DEMO_PASSWORD, demo_seed
from dispatch.services.booking import visit_book
from tests import factories as f
from tests.browser.conftest import DESKTOP, PHONE
from tests.browser.helpers import busy_once, log_in, no_sideways_scroll, wait_until
from tests.browser.test_phone_app_browser import late_morning_zone

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def demo():
    return demo_seed(day=f.tomorrow(), seed=7)


def _loaded(page, before: int) -> None:
    wait_until(page, f"+document.body.dataset.loads > {before}")


def _loads(page) -> int:
    return page.evaluate("+document.body.dataset.loads || 0")


@pytest.fixture
def held_progress(monkeypatch):
    """A gate the solver's thread waits at after each progress report while it is closed: the board polls
    every second, and a run on a fast or an idle machine could end between two polls, so the test holds
    the run until it has seen the progress, whatever the machine's speed."""
    import optimizer

    gate, real = threading.Event(), optimizer.solve
    gate.set()

    def solve(problem, *, progress=None, **kwargs):
        def report(*args):
            progress(*args)
            gate.wait(60)

        return real(problem, progress=report if progress else None, **kwargs)

    monkeypatch.setattr(optimizer, "solve", solve)
    return gate


def _plan(page, seconds: str, screenshot=None, held=None) -> None:
    if held is not None:
        held.clear()
    page.fill("#time-limit", seconds)
    page.click("#plan")
    if held is not None:
        # Progress in a coordinator's terms while the solver runs in its thread (held at its first report).
        page.wait_for_selector("#plan-status:has-text('best so far')", timeout=60_000)
        status = page.locator("#plan-status").inner_text()
        assert " visits, " in status and " min travel" in status and f"of {seconds} s" in status
        if screenshot:
            screenshot(page, "board-plan-running")
        held.set()
    page.wait_for_selector("#preview:not([hidden])", timeout=60_000)
    assert page.locator("#plan-progress").is_hidden()
    # The solver's thread may still hold a read on SQLite's shared in-memory database; writes wait for it.
    for thread in threading.enumerate():
        if thread.name.startswith("plan-run-"):
            thread.join(timeout=10)


def _confirm_apply(page) -> str:
    page.click("#apply")
    page.wait_for_selector("#apply-dialog[open]")
    text = page.locator("#apply-text").inner_text()
    loads = _loads(page)
    page.click("#apply-confirm")
    _loaded(page, loads)
    return text


def _preview_json(page) -> list[dict]:
    """The changes of the preview the page shows, as the board read them."""
    return page.evaluate("() => window.Board.preview.changes")


def test_a_coordinator_plans_previews_and_applies_the_day(new_page, live_server, demo, screenshot, settings,
                                                          accessible, held_progress):
    settings.ROUNDS_PLAN_IN_PROCESS = "thread"  # as without a broker: the board polls while the solver runs
    page = new_page(**DESKTOP)
    log_in(page, live_server, "coordinator", f"/board/?date={demo.day}", password=DEMO_PASSWORD)
    page.wait_for_selector(".row")
    assert page.locator(".row").count() == 12 and page.locator(".visit").count() == 0
    kpis = page.locator("#kpis").inner_text()
    assert "0\nBOOKED" in kpis.upper() and "150\nUNASSIGNED" in kpis.upper()
    assert "150 × not planned yet" in page.locator("#unassigned-summary").inner_text()
    # The day in the organisation's locale (en-CA), not as an ISO date.
    assert demo.day.strftime("%B") in page.locator("#day-label").inner_text()
    screenshot(page, "board-before-plan")

    # A request that arrives while the plan runs makes it stale: the 409's detail is shown, nothing changes.
    _plan(page, "2")
    late = f.VisitFactory(organization=demo.organization, date=demo.day)
    _confirm_apply(page)
    assert "Not applied" in page.locator("#plan-status").inner_text()
    assert str(late.pk) in page.locator("#plan-status").inner_text()
    assert page.locator(".visit").count() == 0

    _plan(page, "6", screenshot, held_progress)  # the late request is part of this one
    # The proposal over the day: a ghost per visit it books, counted, in words.
    added = int(page.locator("#preview-counts .count.added b").inner_text())
    assert added > 0 and page.locator("#timeline .ghost.added").count() == added
    assert "takes" in page.locator("#preview-changes").inner_text()
    assert "placed by the plan waiting to be applied" in page.locator("#unassigned-summary").inner_text()
    # The proposed routes on the map, dashed in the therapists' colours, one per therapist the plan books.
    booked_therapists = len({c["new"]["therapist"] for c in _preview_json(page) if c["new"]})
    assert page.locator("#map path.proposed").count() == booked_therapists > 0
    screenshot(page, "board-preview")
    assert m.Visit.objects.filter(organization=demo.organization, status=m.VisitStatus.SCHEDULED).count() == 0

    assert "unbooks no booked visit" in _confirm_apply(page)
    assert "applied" in page.locator("#plan-status").inner_text()
    scheduled = m.Visit.objects.filter(organization=demo.organization, status=m.VisitStatus.SCHEDULED).count()
    assert scheduled == added and page.locator(".visit").count() == scheduled
    assert page.locator("#timeline .ghost").count() == 0
    assert page.locator("#map path.proposed").count() == 0
    # The Leaflet map with no tiles (tests): routes, stops and facilities are still drawn.
    assert page.locator("#map .leaflet-tile").count() == 0
    assert page.locator("#map path.route").count() > 0
    assert page.locator("#map path.stop").count() == scheduled
    facilities = m.Facility.objects.filter(organization=demo.organization).count()
    assert page.locator("#map .facility-mark").count() == facilities
    accessible(page, "board after apply")
    screenshot(page, "board-after-apply")

    # A stop on the map opens its visit; no health detail in the panel.
    page.locator("#map path.stop").first.dispatch_event("click")
    page.wait_for_selector("#details:not([hidden])")
    panel = page.locator("#details").inner_text()
    assert "Where" in panel and "Duration" in panel and "cancer" not in panel.lower()
    page.keyboard.press("Escape")

    # Picking a therapist brings their route forward.
    row = page.locator(".row", has=page.locator(".visit")).first
    row.locator(".name").click()
    assert page.locator(f"#map path.route.picked.therapist-{row.get_attribute('data-therapist')}").count() == 1
    screenshot(page, "board-route-picked")

    # Open requests filtered by one reason; the zoom widens the axis.
    option = page.locator("#reason-filter option").nth(1)
    count = int(option.inner_text().split(" × ")[0])
    page.select_option("#reason-filter", option.get_attribute("value"))
    assert page.locator("#unassigned li").count() == count
    page.click("#zoom-in")
    assert page.locator(".timeline-inner").evaluate("e => e.style.width") == "150%"
    page.click("#zoom-out")

    # Status messages belong to their day: the next day has none, and no now-line.
    page.click("#next-day")
    wait_until(page, f"location.search.endsWith('{demo.day + dt.timedelta(days=1)}')")
    page.wait_for_selector("#plan-status:text-is('')")
    assert page.locator(".visit").count() == 0 and page.locator(".now").count() == 0
    loads = _loads(page)
    page.click("#prev-day")
    _loaded(page, loads)
    assert "applied" in page.locator("#plan-status").inner_text()


@pytest.fixture
def small_day(organization, coordinator):
    farah = f.TherapistFactory(organization=organization, display_name="Farah Haddad", skills=["oncology"])
    ben = f.TherapistFactory(organization=organization, display_name="Ben Tremblay")
    day = f.tomorrow()
    oncology = m.Skill.objects.get_or_create(code="oncology", defaults={"name": "Oncology massage"})[0]
    booked = f.VisitFactory(organization=organization, windows=[("08:00", "17:00")])
    booked.required_skills.set([oncology])
    booked = visit_book(visit=booked, therapist=farah, planned_start=f.local(day, "10:00"), by=coordinator)
    open_request = f.VisitFactory(organization=organization, windows=[("09:00", "12:00")])
    return farah, ben, booked, open_request


def _drop_on(page, source: str, therapist, hhmm: str) -> int:
    """Drag ``source`` onto the therapist's row where the axis shows ``hhmm``; the board's load count before."""
    track = page.locator(f".row[data-therapist='{therapist.pk}'] .track")
    box = track.bounding_box()
    tick = page.locator(f".hours .tick:text-is('{hhmm}')").bounding_box()
    loads = _loads(page)
    page.drag_and_drop(source, f".row[data-therapist='{therapist.pk}'] .track",
                       target_position={"x": tick["x"] + tick["width"] / 2 - box["x"], "y": box["height"] / 2})
    return loads


def test_a_coordinator_moves_assigns_pins_and_unassigns_on_the_board(new_page, live_server, coordinator, small_day,
                                                                      screenshot, accessible):
    farah, ben, booked, open_request = small_day
    page = new_page(**DESKTOP)
    log_in(page, live_server, coordinator.username, f"/board/?date={booked.date}")
    page.wait_for_selector(".visit")

    # Dragged to a therapist without the skill: refused, with every broken rule, under that row.
    _drop_on(page, f".visit[data-visit='{booked.pk}']", ben, "10:00")
    refusal = page.locator(f".row[data-therapist='{ben.pk}'] + .refusal")
    refusal.wait_for()
    assert "lacks the skills oncology" in refusal.inner_text() and "Ben Tremblay" in refusal.inner_text()
    screenshot(page, "board-refusal")
    booked.refresh_from_db()
    assert booked.therapist_id == farah.pk

    # An open request dragged onto a row: assigned there (and pinned), at the time it was dropped.
    loads = _drop_on(page, f"#unassigned li[data-visit='{open_request.pk}']", ben, "10:00")
    _loaded(page, loads)
    open_request.refresh_from_db()
    assert (open_request.therapist_id, open_request.status, open_request.pinned) == (
        ben.pk, m.VisitStatus.SCHEDULED, True)
    assert abs(open_request.planned_start - f.local(booked.date, "10:00")) <= dt.timedelta(minutes=10)
    assert "assigned to Ben Tremblay" in page.locator("#plan-status").inner_text()

    # Moved from the details panel to an exact time.
    page.click(f".visit[data-visit='{booked.pk}']")
    page.fill("#move-time", "13:00")
    loads = _loads(page)
    page.click("#move-submit")
    _loaded(page, loads)
    booked.refresh_from_db()
    assert booked.planned_start == f.local(booked.date, "13:00") and booked.pinned
    assert page.locator(f".visit.pinned[data-visit='{booked.pk}']").count() == 1

    for label, pinned in (("Unpin", False), ("Pin here", True)):
        page.click(f".visit[data-visit='{booked.pk}']")
        assert page.locator("#pin-toggle").inner_text() == label
        loads = _loads(page)
        page.click("#pin-toggle")
        _loaded(page, loads)
        booked.refresh_from_db()
        assert booked.pinned is pinned

    page.click(f".visit[data-visit='{booked.pk}']")
    accessible(page, "board with the details panel")
    loads = _loads(page)
    page.click("#unassign")
    _loaded(page, loads)
    booked.refresh_from_db()
    assert (booked.status, booked.therapist_id) == (m.VisitStatus.REQUESTED, None)
    assert page.locator(f"#unassigned li[data-visit='{booked.pk}']").count() == 1


def test_applying_a_plan_that_unbooks_a_booked_visit_asks_first_and_says_how_many(
    new_page, live_server, coordinator, small_day, screenshot
):
    farah, ben, booked, open_request = small_day
    farah.skills.clear()  # nobody can serve the oncology visit any more: the plan must leave it out
    page = new_page(**DESKTOP)
    log_in(page, live_server, coordinator.username, f"/board/?date={booked.date}")
    page.wait_for_selector(".visit")
    page.fill("#time-limit", "1")
    page.click("#plan")
    page.wait_for_selector("#preview:not([hidden])", timeout=60_000)
    assert page.locator("#preview-counts .count.unbooked b").inner_text() == "1"
    assert page.locator(f".visit.unbooking[data-visit='{booked.pk}']").count() == 1
    page.click("#apply")
    page.wait_for_selector("#apply-dialog[open]")
    assert "It unbooks 1 booked visit" in page.locator("#apply-text").inner_text()
    assert page.locator("#apply-confirm").inner_text() == "Apply and unbook 1"
    screenshot(page, "board-apply-confirmation")
    # Keeping the day as it is changes nothing.
    page.click("#apply-cancel")
    booked.refresh_from_db()
    assert booked.status == m.VisitStatus.SCHEDULED
    page.click("#apply")
    loads = _loads(page)
    page.click("#apply-confirm")
    _loaded(page, loads)
    booked.refresh_from_db()
    assert booked.status == m.VisitStatus.REQUESTED
    assert "1 unbooked" in page.locator("#plan-status").inner_text()


def test_a_plan_is_still_followed_when_one_poll_meets_a_busy_server(new_page, live_server, coordinator, small_day):
    """A poll answered 503 (or lost) does not end the following: the run goes on in the server, the board waits it
    out and shows the preview; a refusal (404) still ends it with the server's words."""
    farah, ben, booked, open_request = small_day
    page = new_page(**DESKTOP)
    log_in(page, live_server, coordinator.username, f"/board/?date={booked.date}")
    page.wait_for_selector(".visit")
    answered: list[int] = []
    busy = busy_once(answered)
    page.route("**/api/v1/plans/*", lambda route: busy(route) if route.request.method == "GET" else route.continue_())
    page.fill("#time-limit", "1")
    page.click("#plan")
    wait_until(page, "document.querySelector('#plan-status').textContent.includes('still following it')")
    page.wait_for_selector("#preview:not([hidden])", timeout=60_000)
    assert answered[0] == 503 and 200 in answered
    assert int(page.locator("#preview-counts .count.added b").inner_text()) >= 1

    page.unroute("**/api/v1/plans/*")
    page.route("**/api/v1/plans/*", lambda route: route.fulfill(
        status=404, content_type="application/json", body='{"detail": "No plan run matches the given query."}')
        if route.request.method == "GET" else route.continue_())
    page.click("#plan")
    wait_until(page, "document.querySelector('#plan-status').textContent.includes('No plan run matches')")
    assert page.locator("#plan").is_enabled()


@pytest.fixture
def running_day():
    """Today, in a zone where it is late morning: one visit late now, the next one at risk because of it."""
    tz = late_morning_zone()
    organization = f.OrganizationFactory(timezone=tz.key)
    coordinator = f.UserFactory(organization=organization)
    therapist = f.TherapistFactory(organization=organization, display_name="Farah Haddad", weekdays=False)
    now = timezone.now().astimezone(tz)
    today = now.date()
    # A working day around now (late morning there), so the board's axis reads like a real one.
    def clock(moment: dt.datetime) -> dt.time:
        return moment.time().replace(second=0, microsecond=0)

    m.WeeklyAvailability.objects.create(therapist=therapist, weekday=today.weekday(),
                                        start_time=clock(now - dt.timedelta(hours=2)),
                                        end_time=clock(now + dt.timedelta(hours=5)))

    # One patient round the corner (200 m): the 5 minutes between the two visits hold the minute of travel.
    patient = f.PatientFactory(organization=organization, lat=therapist.home_lat + 0.002, lon=therapist.home_lon)

    def booked(start: dt.datetime, window_end: dt.datetime) -> m.Visit:
        visit = f.VisitFactory(organization=organization, date=today, patient=patient)
        visit.windows.all().delete()
        m.VisitWindow.objects.create(visit=visit, start=start - dt.timedelta(minutes=30), end=window_end)
        return visit_book(visit=visit, therapist=therapist, planned_start=start, by=coordinator)

    start = (now - dt.timedelta(minutes=30)).replace(second=0, microsecond=0)
    late = booked(start, start + dt.timedelta(hours=3))
    # Planned to end 10 minutes before its window closes: the late one cannot finish in time for it.
    at_risk = booked(start + dt.timedelta(minutes=40), start + dt.timedelta(minutes=80))
    return coordinator, late, at_risk


def test_the_board_marks_late_and_at_risk_visits_of_the_running_day(new_page, live_server, running_day, screenshot,
                                                                    accessible):
    coordinator, late, at_risk = running_day
    page = new_page(**DESKTOP)
    log_in(page, live_server, coordinator.username, "/board/?date=" + str(late.date))
    page.wait_for_selector(".visit")
    assert page.locator(f".visit.live-late[data-visit='{late.pk}']").count() == 1
    assert page.locator(f".visit.live-at_risk[data-visit='{at_risk.pk}']").count() == 1
    # Red is for these two only: no other block carries an alarm.
    assert page.locator(".visit.live-late, .visit.live-at_risk").count() == 2
    late_kpi = page.locator(".kpi", has_text="late now")
    assert late_kpi.locator(".kpi-value").inner_text() == "1" and "alarm" in late_kpi.get_attribute("class")
    assert page.locator(".now").count() == 1
    accessible(page, "board of the running day")
    screenshot(page, "board-live-day")

    # Today offers a re-plan of the rest of the day, previewed before anything changes.
    page.click("#replan")
    page.wait_for_selector("#preview:not([hidden])", timeout=60_000)
    assert page.locator("#preview-title").inner_text().startswith("Re-plan ")
    late.refresh_from_db()
    assert late.status == m.VisitStatus.SCHEDULED


def test_the_running_day_is_drawn_when_its_live_marks_meet_a_busy_server(new_page, live_server, running_day):
    """The marks that move with the clock come from /board/live: without it the day is still drawn, the late
    and at-risk counts say they are not known (not 0), and the next reload brings the marks."""
    coordinator, late, at_risk = running_day
    page = new_page(**DESKTOP)
    page.route("**/board/live*", lambda route: route.fulfill(
        status=503, content_type="application/json", body='{"detail": "Service unavailable."}'))
    log_in(page, live_server, coordinator.username, "/board/?date=" + str(late.date))
    page.wait_for_selector(".visit")
    assert page.locator(".visit.live-late, .visit.live-at_risk").count() == 0
    late_kpi = page.locator(".kpi", has_text="late now")
    assert late_kpi.locator(".kpi-value").inner_text() == "—" and "alarm" not in late_kpi.get_attribute("class")
    assert page.locator(".now").count() == 0
    page.unroute("**/board/live*")
    before = _loads(page)
    page.evaluate("window.Board.reload()")
    _loaded(page, before)
    assert page.locator(f".visit.live-late[data-visit='{late.pk}']").count() == 1
    assert page.locator(f".visit.live-at_risk[data-visit='{at_risk.pk}']").count() == 1
    assert late_kpi.locator(".kpi-value").inner_text() == "1" and page.locator(".now").count() == 1


def test_the_board_on_a_phone_in_the_organisations_locale(new_page, live_server, coordinator, small_day, screenshot,
                                                           accessible):
    farah, ben, booked, open_request = small_day
    coordinator.organization.locale = "fr-CA"
    coordinator.organization.save()
    page = new_page(**PHONE)
    log_in(page, live_server, coordinator.username, f"/board/?date={booked.date}")
    page.wait_for_selector(".visit")
    french_weekdays = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
    assert page.locator("#day-label").inner_text().split()[0].rstrip(",") in french_weekdays
    assert no_sideways_scroll(page)  # the timeline scrolls inside its panel, not the page
    accessible(page, "board on a phone")
    screenshot(page, "board-phone", full_page=False)
    page.click(f".visit[data-visit='{booked.pk}']")
    details = page.locator("#details").bounding_box()
    assert details["y"] + details["height"] >= PHONE["height"] - 2  # a sheet from the bottom edge
    loads = _loads(page)
    page.click("#pin-toggle")
    _loaded(page, loads)
    booked.refresh_from_db()
    assert booked.pinned is True


def test_a_day_whose_stops_all_share_one_place_draws_its_map(new_page, live_server):
    """One therapist, one patient at the therapist's own address: the map's box has no size. Leaflet then
    computes a NaN zoom and throws; the board shows the place instead (new_page fails on any script error)."""
    org = f.OrganizationFactory()
    coordinator = f.UserFactory(organization=org)
    therapist = f.TherapistFactory(organization=org, home_lat=43.65, home_lon=-79.40)
    day = f.tomorrow()
    visit = f.VisitFactory(organization=org, date=day, windows=[("08:00", "16:00")], patient__lat=43.65, patient__lon=-79.40)
    visit_book(visit=visit, therapist=therapist, planned_start=f.local(day, "10:00"))
    page = new_page(**DESKTOP)
    log_in(page, live_server, coordinator.username, f"/board/?date={day}")
    page.wait_for_selector("#map path.stop", state="attached")  # a route of no length is drawn, not visible
    assert page.locator("#map path.stop").count() == 1 and page.locator("#map path.route").count() == 1
