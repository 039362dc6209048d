"""Facility staff request, change and cancel visits on their page, in headless Chromium."""
from __future__ import annotations

import datetime as dt

import pytest

from dispatch import models as m
from dispatch.services.booking import visit_book
from tests import factories as f
from tests.browser.conftest import DESKTOP, PHONE
from tests.browser.helpers import log_in, no_sideways_scroll

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def ward(organization, coordinator, facility, facility_staff, therapist):
    therapist.display_name = "Farah Haddad"
    therapist.save()
    mine = f.PatientFactory(organization=organization, facility=facility, first_name="Ada", last_name="Lovelace")
    f.PatientFactory(organization=organization, facility=facility, first_name="Grace", last_name="Hopper")
    elsewhere = f.PatientFactory(organization=organization, facility=f.FacilityFactory(organization=organization),
                                 first_name="Zed", last_name="Elsewhere")
    booked = f.VisitFactory(organization=organization, patient=mine, windows=[("08:00", "17:00")])
    visit_book(visit=booked, therapist=therapist, planned_start=f.local(booked.date, "10:00"), by=coordinator)
    f.VisitFactory(organization=organization, patient=elsewhere)
    return mine


def test_staff_request_a_visit_see_the_apis_messages_by_the_fields_then_change_and_cancel_it(
    new_page, live_server, ward, facility_staff, screenshot, accessible
):
    page = new_page(**DESKTOP)
    page.goto(f"{live_server.url}/accounts/login/")
    accessible(page, "login page")
    log_in(page, live_server, facility_staff.username, "/facility/")
    assert page.url.endswith("/facility/")
    # Their own patients and visits; another facility's are nowhere.
    options = page.locator("#f-patient option").all_inner_texts()
    assert any("Ada Lovelace" in o for o in options) and not any("Zed" in o for o in options)
    assert "with Farah" in page.locator("#requests").inner_text() and "Zed" not in page.content()
    accessible(page, "facility page")
    screenshot(page, "facility-desktop")

    # The API refuses a 95-minute session: its message sits next to the duration field.
    page.select_option("#f-patient", index=1)
    page.fill("#f-date", str(f.tomorrow()))
    page.fill("#f-duration", "95")
    page.click("#submit")
    page.wait_for_selector("#err-duration_min:not(:empty)")
    assert "90" in page.locator("#err-duration_min").inner_text()
    assert page.get_attribute("#f-duration", "aria-invalid") == "true"
    screenshot(page, "facility-validation")

    # A window that ends before it starts: the message is beside that window.
    page.fill("#f-duration", "30")
    page.fill(".window-row [data-part=start]", "11:00")
    page.fill(".window-row [data-part=end]", "10:00")
    page.click("#submit")
    page.wait_for_selector(".window-row .window-error:not(:empty)")
    assert page.locator("#err-duration_min").inner_text() == ""
    assert m.Visit.objects.filter(requested_by=facility_staff).count() == 0

    page.fill(".window-row [data-part=end]", "12:30")
    page.fill("#f-instructions", "Family visits after lunch")
    page.click("#submit")
    page.wait_for_selector("#flash:has-text('Visit requested')")
    visit = m.Visit.objects.get(requested_by=facility_staff)
    window = visit.windows.get()
    local = window.start.astimezone(f.TORONTO)
    assert (visit.duration_min, local.time(), visit.instructions) == (30, dt.time(11), "Family visits after lunch")
    row = page.locator(f".request[data-visit='{visit.pk}']")
    assert "Requested" in row.inner_text()

    # Changed while it is a request: the form fills with it and PATCHes it.
    row.locator("button.change").click()
    assert page.locator("#f-patient").is_disabled()
    page.fill("#f-duration", "45")
    page.click("#submit")
    page.wait_for_selector("#flash:has-text('changed')")
    visit.refresh_from_db()
    assert visit.duration_min == 45

    # Cancelled with a reason, asked for before anything is sent.
    page.locator(f".request[data-visit='{visit.pk}'] button.cancel").click()
    page.click("#cancel-confirm")
    assert "Say why" in page.locator("#err-cancel").inner_text()
    page.fill("#cancel-reason", "Patient moved to another ward")
    page.click("#cancel-confirm")
    page.wait_for_selector("#flash:has-text('cancelled')")
    visit.refresh_from_db()
    assert (visit.status, visit.status_reason) == (m.VisitStatus.CANCELLED, "Patient moved to another ward")
    assert page.locator(f".request[data-visit='{visit.pk}'] button.cancel").count() == 0


def test_staff_request_a_visit_from_a_phone(new_page, live_server, ward, facility_staff, screenshot, accessible):
    page = new_page(**PHONE)
    log_in(page, live_server, facility_staff.username, "/facility/")
    assert no_sideways_scroll(page)
    accessible(page, "facility page on a phone")
    screenshot(page, "facility-phone", full_page=False)
    page.select_option("#f-patient", index=2)
    page.fill("#f-date", str(f.tomorrow()))
    page.click("#submit")
    page.wait_for_selector("#flash:has-text('Visit requested')")
    assert m.Visit.objects.filter(requested_by=facility_staff, status=m.VisitStatus.REQUESTED).count() == 1
    assert no_sideways_scroll(page)


def test_the_calendar_page_shows_a_link_and_its_qr_code_once(new_page, live_server, ward, facility_staff, screenshot,
                                                             accessible):
    page = new_page(**PHONE)
    log_in(page, live_server, facility_staff.username, "/calendar/")
    page.click("#rotate")
    page.wait_for_selector(".qr svg")
    assert page.get_attribute("#webcal", "href").startswith("webcal://")
    assert "/feeds/facilities/" in page.input_value("#https-url")
    accessible(page, "calendar page")
    screenshot(page, "calendar-phone", full_page=False)
    page.goto(f"{live_server.url}/calendar/")
    assert page.locator(".qr svg").count() == 0 and "active since" in page.inner_text("main")
