"""A list refuses a query parameter it does not take, rather than answer as if it had not been sent."""
from __future__ import annotations

import pytest


@pytest.mark.parametrize("url, typo", [
    ("/api/v1/visits?stauts=requested", "stauts"),
    ("/api/v1/patients?facilty=1", "facilty"),
    ("/api/v1/therapists?skills=oncology", "skills"),
    ("/api/v1/facilities?name=X", "name"),
    ("/api/v1/availability/weekly?day=1", "day"),
    ("/api/v1/plans?day=2026-12-03", "day"),
])
def test_a_misspelt_filter_is_a_400_naming_what_the_list_takes(world, url, typo):
    response = world.clients["coordinator"].get(url)
    assert response.status_code == 400, response.content
    assert list(response.json()) == [typo]
    assert "this list takes:" in response.json()[typo][0] and "page_size" in response.json()[typo][0]


def test_known_filters_pages_and_the_format_override_are_taken(world):
    client = world.clients["coordinator"]
    response = client.get(f"/api/v1/visits?date={world.visit_x.date}&status=scheduled&page=1&page_size=5")
    assert response.status_code == 200 and response.json()["count"] >= 1
    assert client.get("/api/v1/patients?home=true&page_size=200").status_code == 200
    assert client.get("/api/v1/visits?format=json").status_code == 200


def test_a_detail_read_ignores_the_list_filters(world):
    response = world.clients["coordinator"].get(f"/api/v1/therapists/{world.therapist.pk}?anything=1")
    assert response.status_code == 200


@pytest.mark.parametrize("url, typo", [
    ("/api/v1/notifications?unred=true", "unred"),
    ("/api/v1/webhooks?facility=1", "facility"),
])
def test_the_notification_and_webhook_lists_refuse_what_they_do_not_take_too(world, url, typo):
    response = world.clients["coordinator"].get(url)
    assert response.status_code == 400, response.content
    assert list(response.json()) == [typo]
    assert "this list takes:" in response.json()[typo][0]


def test_the_notification_list_still_takes_unread_and_pages(world):
    response = world.clients["coordinator"].get("/api/v1/notifications?unread=true&page=1&page_size=5")
    assert response.status_code == 200, response.content


@pytest.mark.parametrize("url, typo", [
    ("/api/v1/schedule?date=2026-12-03&therapists=1", "therapists"),
    ("/api/v1/auth/tokens?all=1", "all"),
])
def test_the_schedule_and_the_token_list_refuse_what_they_do_not_take_too(world, url, typo):
    response = world.clients["coordinator"].get(url)
    assert response.status_code == 400, response.content
    assert list(response.json()) == [typo]


def test_a_parameter_that_takes_one_value_given_twice_is_a_400_and_a_repeatable_filter_is_not(world):
    client = world.clients["coordinator"]
    day = world.visit_x.date
    twice = client.get(f"/api/v1/schedule?date={day}&date={day}")
    assert twice.status_code == 400 and twice.json() == {"date": ["Given 2 times; give it once."]}
    assert client.get(f"/api/v1/visits?date={day}&date={day}").status_code == 400
    both = client.get(f"/api/v1/visits?date={day}&status=scheduled&status=requested")
    assert both.status_code == 200 and both.json()["count"] >= 1
    assert client.get(f"/api/v1/schedule?date={day}&format=json").status_code == 200


@pytest.mark.parametrize("param", ["date", "date_from", "date_to"])
def test_a_day_outside_the_planning_range_is_a_400_in_lists_as_in_the_schedule(world, param):
    response = world.clients["coordinator"].get(f"/api/v1/visits?{param}=9999-12-31")
    assert response.status_code == 400
    assert response.json() == {param: ["Give a date between 2000-01-01 and 2099-12-31."]}
    assert world.clients["coordinator"].get("/api/v1/schedule?date=9999-12-31").status_code == 400
