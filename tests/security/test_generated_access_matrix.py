"""Every API route from the URL configuration, tried by every role of another organisation.

The routes are read from Django's resolver, so a new endpoint joins the matrix without anyone
remembering to add it. Organisation A owns one object of every kind; each user of organisation B
(and anonymous) calls every route that names one of A's objects with every method: nothing may
succeed, nothing may 500, and A's data must be unchanged afterwards. Collection routes must not
list any of A's objects.
"""
from __future__ import annotations

import datetime as dt
import re
from types import SimpleNamespace

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from knox.models import AuthToken
from rest_framework.test import APIClient

from dispatch import models as m
from dispatch.services.feed_tokens import feed_token_rotate
from dispatch.services.plans import plan_run_create
from tests import factories as f

METHODS = ("get", "post", "put", "patch", "delete")
REFUSED = {401, 403, 404, 405}
KIND_OF_COLLECTION = {
    "visits": "Visit", "patients": "Patient", "therapists": "Therapist", "facilities": "Facility", "plans": "PlanRun",
    "notifications": "Notification", "webhooks": "WebhookSubscription",
}


def api_routes() -> list[str]:
    """Every route under /api/v1/ as a regex-free template like 'visits/{pk}/check-in'."""
    found: list[str] = []

    def walk(patterns, prefix: str) -> None:
        for p in patterns:
            route = prefix + str(p.pattern)
            if isinstance(p, URLResolver):
                walk(p.url_patterns, route)
            elif isinstance(p, URLPattern):
                found.append(route)

    walk(get_resolver().url_patterns, "")
    templates = set()
    for route in found:
        if not route.startswith("api/v1/"):
            continue
        route = route.removeprefix("api/v1/")
        # Router regexes: ^therapists/(?P<pk>[^/.]+)/?$  ->  therapists/{pk}
        route = re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", route)
        route = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route)
        route = route.replace("^", "").replace("$", "").replace("/?", "").replace("\\.", ".")
        if "(?P" in route or "format" in route:
            continue
        templates.add(route.rstrip("/"))
    return sorted(templates)


ROUTES = api_routes()
OBJECT_ROUTES = [r for r in ROUTES if "{" in r]
COLLECTION_ROUTES = [r for r in ROUTES if "{" not in r and r not in ("auth/token",)]


@pytest.fixture
def orgs(db):
    day = f.tomorrow()
    a = f.OrganizationFactory()
    facility = f.FacilityFactory(organization=a)
    therapist = f.TherapistFactory(organization=a)
    patient = f.PatientFactory(organization=a, facility=facility)
    visit = f.VisitFactory(organization=a, patient=patient, date=day)
    visit.therapist, visit.planned_start = therapist, f.local(day, "10:00")
    visit.planned_end = visit.planned_busy_until = f.local(day, "10:30")
    visit.status = m.VisitStatus.SCHEDULED
    visit.save()
    objects = {
        "visits": visit,
        "patients": patient,
        "therapists": therapist,
        "facilities": facility,
        "plans": plan_run_create(organization=a, day=day, created_by=None, time_limit_s=0.5),
        "availability/weekly": therapist.weekly_availability.first(),
        "availability/exceptions": m.AvailabilityException.objects.create(
            therapist=therapist, date=day, kind="time_off"
        ),
        "availability/breaks": m.TherapistBreak.objects.create(
            therapist=therapist, earliest_start=dt.time(12), latest_start=dt.time(13), duration_min=30
        ),
        "replan": None,
        "notifications": m.Notification.objects.create(
            organization=a, recipient=therapist.user, channel=m.Channel.IN_APP, change_key="matrix", event="visit.added",
            subject="s", body="b", link="/", not_before=visit.planned_start,
        ),
        "webhooks": m.WebhookSubscription.objects.create(
            organization=a, facility=facility, url="https://hooks.example.org/rounds", events=["visit.moved"], secret="x"
        ),
    }
    objects["replan"] = objects["plans"]
    # A's coordinator's API token, named in URLs by its public id.
    token, _ = AuthToken.objects.create(user=f.UserFactory(organization=a))
    objects["auth/tokens"] = SimpleNamespace(pk=token.token_key)
    feed_token_rotate(therapist=therapist)
    b = f.OrganizationFactory()
    b_facility = f.FacilityFactory(organization=b)
    users = {
        "coordinator_b": f.UserFactory(organization=b),
        "therapist_b": f.TherapistFactory(organization=b).user,
        "staff_b": f.FacilityStaffFactory(organization=b, facility=b_facility),
        "anonymous": None,
    }
    return objects, users


def _snapshot() -> list:
    return [
        list(m.Visit.objects.order_by("pk").values_list("pk", "status", "therapist_id", "planned_start", "sequence")),
        list(m.Patient.objects.order_by("pk").values_list("pk", "first_name", "facility_id", "diagnosis")),
        list(m.Therapist.objects.order_by("pk").values_list("pk", "display_name", "active")),
        list(m.PlanRun.objects.order_by("pk").values_list("pk", "status", "applied_at")),
        list(m.FeedToken.objects.order_by("pk").values_list("pk", "revoked_at")),
        m.WeeklyAvailability.objects.count(),
        m.AvailabilityException.objects.count(),
        m.TherapistBreak.objects.count(),
        m.Facility.objects.count(),
        list(m.Notification.objects.order_by("pk").values_list("pk", "read_at")),
        list(m.WebhookSubscription.objects.order_by("pk").values_list("pk", "url", "events", "active")),
        sorted(AuthToken.objects.values_list("token_key", flat=True)),
    ]


def _client(user) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


def _fill(route: str, objects) -> str:
    owner = next(prefix for prefix in sorted(objects, key=len, reverse=True) if route.startswith(prefix))
    return "/api/v1/" + re.sub(r"\{\w+\}", str(objects[owner].pk), route)


def test_the_matrix_covers_the_api():
    """The generator found the API: guards the test against silently testing nothing."""
    for expected in ("visits/{pk}", "patients/{pk}", "plans/{plan_id}/apply", "visits/{visit_id}/check-in", "schedule"):
        assert expected in ROUTES, f"{expected} not found among {ROUTES}"
    assert len(OBJECT_ROUTES) >= 20


@pytest.mark.parametrize("route", OBJECT_ROUTES)
def test_no_role_of_another_organisation_reaches_an_object(orgs, route):
    objects, users = orgs
    before = _snapshot()
    path = _fill(route, objects)
    for name, user in users.items():
        client = _client(user)
        for method in METHODS:
            response = getattr(client, method)(path, {}, format="json")
            assert response.status_code in REFUSED, f"{name} {method.upper()} {path} -> {response.status_code}"
    assert _snapshot() == before


@pytest.mark.parametrize("route", COLLECTION_ROUTES)
def test_no_collection_lists_another_organisations_objects(orgs, route):
    objects, users = orgs
    theirs = {(type(o).__name__, o.pk) for o in objects.values() if o is not None}
    for name, user in users.items():
        response = _client(user).get(f"/api/v1/{route}", {"date": str(f.tomorrow())})
        assert response.status_code < 500, f"{name} GET {route} -> {response.status_code}"
        if response.status_code != 200 or "json" not in response.get("Content-Type", ""):
            continue
        body = response.json()
        rows = body.get("results", body) if isinstance(body, dict) else body
        if isinstance(rows, list):
            kind = KIND_OF_COLLECTION.get(route)
            if kind:
                listed = {r.get("id") for r in rows if isinstance(r, dict)}
                assert not {pk for k, pk in theirs if k == kind} & listed, f"{name} lists organisation A's {route}"
