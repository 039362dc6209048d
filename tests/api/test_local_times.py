"""Every time in every answer reads in the organisation's local offset, history included, as clients see it.

Clients authenticate with a token (or a session), which is what switches a request to the organisation's
zone; so this test logs in through the API rather than forcing a user onto the client.
"""
from __future__ import annotations

import datetime as dt
import re
from io import StringIO

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from dispatch import models as m
from dispatch.demo.seed import DEMO_PASSWORD, DEMO_SLUG

ISO_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)$")


def _times(value, path="$"):
    """(where, text) of every ISO date-time string in a JSON body."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _times(item, f"{path}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _times(item, f"{path}[{i}]")
    elif isinstance(value, str) and ISO_TIME.match(value):
        yield path, value


def _login(username: str) -> APIClient:
    client = APIClient()
    answer = client.post("/api/v1/auth/token", {"username": username, "password": DEMO_PASSWORD}, format="json")
    assert answer.status_code == 200, answer.content
    client.credentials(HTTP_AUTHORIZATION=f"Token {answer.json()['token']}")
    return client


@pytest.mark.django_db
def test_every_time_in_every_answer_is_in_the_organisations_local_offset():
    call_command("seed_demo", "--visits", "40", "--today-visits", "12", stdout=StringIO())
    call_command("plan_day", "--time-limit", "2", stdout=StringIO())
    call_command("demo_today", "--time-limit", "2", stdout=StringIO())
    org = m.Organization.objects.get(slug=DEMO_SLUG)
    coordinator = _login("coordinator")
    booked = m.Visit.objects.filter(organization=org, status=m.VisitStatus.SCHEDULED).order_by("pk").first()
    # A time change in the history: the booked visit pinned where it is, then a note on its patient.
    pinned = coordinator.post(f"/api/v1/visits/{booked.pk}/pin", {}, format="json")
    assert pinned.status_code == 200, pinned.content
    plan = m.PlanRun.objects.filter(organization=org).order_by("-pk").first()
    therapist_user = booked.therapist.user
    therapist = _login(therapist_user.username)
    day = booked.date.isoformat()

    answers = {
        "visits": coordinator.get("/api/v1/visits", {"date": day}),
        "visit": coordinator.get(f"/api/v1/visits/{booked.pk}"),
        "visit history": coordinator.get(f"/api/v1/visits/{booked.pk}/history"),
        "patient history": coordinator.get(f"/api/v1/patients/{booked.patient_id}/history"),
        "schedule": coordinator.get("/api/v1/schedule", {"date": day}),
        "plans": coordinator.get("/api/v1/plans"),
        "plan": coordinator.get(f"/api/v1/plans/{plan.pk}"),
        "tokens": coordinator.get("/api/v1/auth/tokens"),
        "exceptions": coordinator.get("/api/v1/availability/exceptions"),
        "notifications": therapist.get("/api/v1/notifications"),
        "therapist's visits": therapist.get("/api/v1/visits", {"date": day}),
        "pin": pinned,
    }
    seen, wrong = 0, []
    for name, answer in answers.items():
        assert answer.status_code == 200, (name, answer.content[:300])
        for where, text in _times(answer.json()):
            seen += 1
            instant = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
            if instant.utcoffset() != instant.astimezone(org.tz).utcoffset():
                wrong.append(f"{name} {where} = {text}")
    assert seen > 100  # the walk read real bodies, not empty lists
    assert not wrong, wrong[:20]
