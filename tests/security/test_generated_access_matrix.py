"""Every API route from the URL configuration, tried by every role of another organisation.

The routes are read from Django's resolver, so a new endpoint joins the matrix without anyone
remembering to add it. Organisation A owns a row of every model, each with a marker string in its
names, addresses and notes and an id from FIRST_ID up. Each user of organisation B, signed in with
an API token from the login route (and anonymous), calls every route that names one of A's objects
with every method, and every collection route plainly, filtered by A's ids and written to: nothing
may succeed, nothing may 500, no body may carry A's markers, ids or secrets, and every field of
every row A owns must be unchanged afterwards.
"""
from __future__ import annotations

import datetime as dt
import itertools
import operator
import re
import uuid
from functools import reduce
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.contrib.auth.models import Group, Permission
from django.core.cache import cache
from django.db.models import Q
from django.urls import URLPattern, URLResolver, get_resolver
from knox.models import AuthToken
from rest_framework.test import APIClient

from dispatch import models as m
from dispatch.services.feed_tokens import feed_token_rotate
from dispatch.services.plans import plan_run_create
from tests import factories as f
from tests.clients import signed_in

METHODS = ("get", "post", "put", "patch", "delete")


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


MARK = "qzvmark"  # in every name, address and note of organisation A; nowhere in organisation B's data
FIRST_ID = 7_300_001  # A's rows get ids from here: such a number in a response to B is one of A's ids


@pytest.fixture
def orgs(db):
    """Organisation A owns a marked row of every kind; organisation B's users are signed in with API tokens."""
    cache.clear()  # the login route's throttle counts per address
    ids = itertools.count(FIRST_ID)
    day = f.tomorrow()
    yesterday = day - dt.timedelta(days=2)
    # B first: on SQLite a row inserted after A's explicit ids would get the next one, in A's range.
    b = f.OrganizationFactory()
    b_facility = f.FacilityFactory(organization=b)
    b_therapist = f.TherapistFactory(organization=b)
    b_visit = f.VisitFactory(organization=b, patient=f.PatientFactory(organization=b, facility=b_facility))
    b_visit.therapist, b_visit.status = b_therapist, m.VisitStatus.SCHEDULED
    b_visit.planned_start, b_visit.planned_end = f.local(day, "11:00"), f.local(day, "11:30")
    b_visit.planned_busy_until = b_visit.planned_end
    b_visit.save()
    b_coordinator = f.UserFactory(organization=b)
    b_staff = f.FacilityStaffFactory(organization=b, facility=b_facility)
    a = f.OrganizationFactory(id=next(ids), name=f"{MARK} Care")
    coordinator = f.UserFactory(
        id=next(ids), organization=a, username=f"{MARK}_coordinator", first_name=f"{MARK}first",
        last_name=f"{MARK}last", email=f"{MARK}@example.org",
    )
    coordinator.groups.add(Group.objects.create(name=MARK))
    coordinator.user_permissions.add(Permission.objects.get(codename="view_visit"))
    m.GeocodeCache.objects.create(query=f"4 {MARK} Street", lat=43.7, lon=-79.4, provider="test")
    facility = f.FacilityFactory(
        id=next(ids), organization=a, name=f"{MARK} Hospice", address=f"1 {MARK} Lane", phone=f"{MARK} desk"
    )
    credential = m.CredentialType.objects.create(id=next(ids), organization=a, code=MARK, name=f"{MARK} badge")
    facility.required_credentials.add(credential)
    therapist = f.TherapistFactory(
        id=next(ids), organization=a, display_name=f"{MARK} Therapist", home_address=f"2 {MARK} Road",
        user__id=next(ids), user__username=f"{MARK}_therapist", user__email=f"{MARK}.t@example.org",
        weekdays=False, skills=["palliative"],
    )
    for weekday in range(7):
        m.WeeklyAvailability.objects.create(
            id=next(ids), therapist=therapist, weekday=weekday, start_time=dt.time(8), end_time=dt.time(17)
        )
    m.TherapistCredential.objects.create(id=next(ids), therapist=therapist, credential_type=credential)
    patient = f.PatientFactory(
        id=next(ids), organization=a, facility=facility, first_name=f"{MARK}first", last_name=f"{MARK}last",
        address=f"3 {MARK} Court", access_notes=f"{MARK} door code", diagnosis=f"{MARK} diagnosis",
        referring_clinician=f"Dr. {MARK}", payer=f"{MARK} insurer", phone=f"{MARK} phone", room=MARK,
    )
    patient.preferred_therapists.add(therapist)
    patient.excluded_therapists.add(f.TherapistFactory(organization=a, display_name=f"{MARK} Excluded"))
    m.Contraindication.objects.create(
        id=next(ids), patient=patient, kind="other", note=f"{MARK} contraindication", active_from=day,
        active_until=day,
    )
    m.Precaution.objects.create(id=next(ids), patient=patient, kind="other", note=f"{MARK} precaution")
    series = m.VisitSeries.objects.create(
        id=next(ids), organization=a, patient=patient, weekdays=[0], window_start=dt.time(9), window_end=dt.time(12),
        duration_min=30, starts_on=day, ends_on=day, created_by=coordinator,
    )
    palliative = therapist.skills.get()
    series.required_skills.add(palliative)

    def visit(on: dt.date, status: str, **fields) -> m.Visit:
        row = f.VisitFactory(
            id=next(ids), organization=a, patient=patient, date=on, location_text=f"{MARK} bedside",
            instructions=f"{MARK} instructions", status_reason=f"{MARK} reason", requested_by=coordinator,
            series=series,
        )
        row.therapist, row.status = therapist, status
        row.planned_start, row.planned_end = f.local(on, "10:00"), f.local(on, "10:30")
        row.planned_busy_until = row.planned_end
        for name, value in fields.items():
            setattr(row, name, value)
        row.save()
        row.required_skills.add(palliative)
        return row

    scheduled = visit(day, m.VisitStatus.SCHEDULED)
    # Completed, with its check-in and check-out: what the learned buffers count.
    visit(yesterday, m.VisitStatus.COMPLETED, actual_start=f.local(yesterday, "10:00"),
          actual_end=f.local(yesterday, "10:45"))
    notification = m.Notification.objects.create(
        id=next(ids), organization=a, recipient=therapist.user, channel=m.Channel.IN_APP, change_key=MARK,
        event="visit.added", subject=f"{MARK} subject", body=f"{MARK} body", link=f"/{MARK}",
        items=[{"visit": scheduled.pk, "place": MARK}], not_before=scheduled.planned_start,
    )
    m.Notification.objects.create(
        id=next(ids), organization=a, recipient=coordinator, channel=m.Channel.IN_APP, change_key=f"{MARK}-c",
        event="visit.added", subject=f"{MARK} subject", body=f"{MARK} body", link=f"/{MARK}",
        not_before=scheduled.planned_start,
    )
    m.NotificationPreference.objects.create(id=next(ids), user=therapist.user, sms_number="+14165550123")
    webhook = m.WebhookSubscription.objects.create(
        id=next(ids), organization=a, facility=facility, url=f"https://{MARK}.example.org/rounds",
        events=["visit.moved"], secret=MARK, created_by=coordinator, disabled_reason=f"{MARK} reason",
    )
    m.WebhookDelivery.objects.create(
        id=next(ids), subscription=webhook, delivery_id=uuid.uuid4(), event="visit.moved", event_key=MARK,
        payload={"place": MARK}, next_attempt_at=scheduled.planned_start, last_error=f"{MARK} error",
    )
    m.IdempotencyKey.objects.create(
        id=next(ids), user=coordinator, key=MARK, request_hash="0" * 64, response_status=201,
        response_body={"note": MARK},
    )
    objects = {
        "visits": scheduled,
        "patients": patient,
        "therapists": therapist,
        "facilities": facility,
        "plans": plan_run_create(organization=a, day=day, created_by=coordinator, time_limit_s=0.5),
        "availability/weekly": therapist.weekly_availability.first(),
        "availability/exceptions": m.AvailabilityException.objects.create(
            id=next(ids), therapist=therapist, date=day, kind="time_off", note=f"{MARK} note"
        ),
        "availability/breaks": m.TherapistBreak.objects.create(
            id=next(ids), therapist=therapist, earliest_start=dt.time(12), latest_start=dt.time(13), duration_min=30
        ),
        "replan": None,
        "notifications": notification,
        "webhooks": webhook,
    }
    objects["replan"] = objects["plans"]
    # A's coordinator's API token, named in URLs by its public id.
    token, _ = AuthToken.objects.create(user=coordinator)
    objects["auth/tokens"] = SimpleNamespace(pk=token.token_key)
    # Secrets of A's that B must never see: its API token ids and its calendar feed secrets.
    secrets = [token.token_key] + [feed_token_rotate(**owner)[1] for owner in ({"therapist": therapist}, {"facility": facility})]
    users = {
        "coordinator_b": signed_in(b_coordinator),
        "therapist_b": signed_in(b_therapist.user),
        "staff_b": signed_in(b_staff),
        "anonymous": APIClient(),
    }
    own = {"coordinator_a": signed_in(coordinator), "therapist_a": signed_in(therapist.user)}
    secrets += list(AuthToken.objects.filter(user__organization=a).values_list("token_key", flat=True))
    return SimpleNamespace(objects=objects, users=users, own=own, organization=a, day=day, secrets=secrets)


def _paths_to_organization(model, depth: int = 3) -> list[str]:
    """Lookups from ``model`` to the organisation that owns a row (several when a row may hang off one of several)."""
    if model is m.Organization:
        return ["pk"]
    paths = []
    for field in model._meta.concrete_fields:
        if not field.is_relation:
            continue
        if field.related_model is m.Organization:
            paths.append(field.name)
        elif depth > 1:
            paths += [f"{field.name}__{p}" for p in _paths_to_organization(field.related_model, depth - 1) if p != "pk"]
    return paths


SNAPSHOT_MODELS = [*apps.get_app_config("dispatch").get_models(include_auto_created=True), AuthToken]


def _rows_of(model, organization) -> list[dict]:
    """Every field of every row ``organization`` owns (all rows of a model no organisation owns, such as skills)."""
    paths = _paths_to_organization(model)
    rows = model.objects.all()
    if paths:
        rows = rows.filter(reduce(operator.or_, (Q(**{p: organization.pk}) for p in paths))).distinct()
    return list(rows.order_by("pk").values(*(field.attname for field in model._meta.concrete_fields)))


def _snapshot(organization) -> dict[str, list[dict]]:
    return {model._meta.label: _rows_of(model, organization) for model in SNAPSHOT_MODELS}


def _assert_nothing_of_a(orgs, response, what: str, *, ids_sent: bool = False) -> None:
    """No marker or secret of A's in the body, nor (unless the request itself named them) any of A's ids."""
    text = response.content.decode(errors="replace")
    assert MARK not in text.lower(), f"{what} shows organisation A's data: {text[:500]}"
    assert not [s for s in orgs.secrets if s in text], f"{what} shows a secret of organisation A's: {text[:500]}"
    if not ids_sent:
        leaked = [n for n in map(int, re.findall(r"(?<![\d.])73000\d\d(?![\d.])", text)) if n >= FIRST_ID]
        assert not leaked, f"{what} names organisation A's ids {leaked}: {text[:500]}"


def _fill(route: str, objects) -> str:
    owner = next(prefix for prefix in sorted(objects, key=len, reverse=True) if route.startswith(prefix))
    return "/api/v1/" + re.sub(r"\{\w+\}", str(objects[owner].pk), route)


def _refused(name: str) -> set[int]:
    """Anonymous: 401, as the API documents; a signed-in user of B: forbidden for the role, not found, or no such
    method, never 401 (that would mean the token did not sign them in, and the matrix tested nothing)."""
    return {401} if name == "anonymous" else {403, 404, 405}


def _a_ids_as_filters(objects) -> dict[str, object]:
    return {
        "therapist": objects["therapists"].pk, "patient": objects["patients"].pk,
        "facility": objects["facilities"].pk, "visit": objects["visits"].pk, "plan": objects["plans"].pk,
    }


def test_the_matrix_covers_the_api():
    """The generator found the API: guards the test against silently testing nothing."""
    for expected in ("visits/{pk}", "patients/{pk}", "plans/{plan_id}/apply", "visits/{visit_id}/check-in", "schedule"):
        assert expected in ROUTES, f"{expected} not found among {ROUTES}"
    assert len(OBJECT_ROUTES) >= 20


def test_the_snapshot_holds_a_row_of_every_model_organisation_a_owns(orgs):
    """"A is unchanged" compares every model: each one organisation A can own has A's rows in the snapshot."""
    snapshot = _snapshot(orgs.organization)
    empty = sorted(label for label, rows in snapshot.items() if not rows)
    assert empty == [], f"organisation A owns no row of {empty}: seed one so the matrix watches it"


def test_organisation_a_sees_its_own_markers_where_b_must_not(orgs):
    """The searches below find something when it is there: A's own users see A's markers or ids in these bodies."""
    shown = set()
    for client in orgs.own.values():
        for route in COLLECTION_ROUTES:
            response = _get_known(client, f"/api/v1/{route}", {"date": str(orgs.day)})
            try:
                _assert_nothing_of_a(orgs, response, route)
            except AssertionError:
                shown.add(route)
    assert shown == {
        "auth/tokens", "availability/breaks", "availability/exceptions", "availability/weekly", "facilities", "me",
        "notifications", "patients", "schedule", "therapists", "visits", "webhooks",
    }
    coordinator = orgs.own["coordinator_a"]
    samples = {r["care_setting"]: r["samples"] for r in coordinator.get("/api/v1/buffers/suggested").json()["results"]}
    assert samples[m.CareSetting.HOSPITAL] == 1


@pytest.mark.parametrize("route", OBJECT_ROUTES)
def test_no_role_of_another_organisation_reaches_an_object(orgs, route):
    before = _snapshot(orgs.organization)
    path = _fill(route, orgs.objects)
    for name, client in orgs.users.items():
        for method in METHODS:
            response = getattr(client, method)(path, {}, format="json")
            assert response.status_code in _refused(name), f"{name} {method.upper()} {path} -> {response.status_code}"
            _assert_nothing_of_a(orgs, response, f"{name} {method.upper()} {path}", ids_sent=True)
    assert _snapshot(orgs.organization) == before


def _get_known(client, url: str, params: dict):
    """A list refuses filters it does not take (400 naming each): send it the rest, so A's ids reach every filter
    that exists instead of stopping at the first unknown one."""
    response = client.get(url, params)
    while response.status_code == 400 and (unknown := {
        key for key, messages in response.json().items()
        if key in params and any("Unknown query parameter" in message for message in messages)
    }):
        params = {key: value for key, value in params.items() if key not in unknown}
        response = client.get(url, params)
    return response


@pytest.mark.parametrize("route", COLLECTION_ROUTES)
def test_no_collection_shows_another_organisations_data(orgs, route):
    """Every collection, read plainly and filtered by A's ids, and written to naming A's ids: nothing of A's in the
    body, and every field of every row A owns unchanged."""
    before = _snapshot(orgs.organization)
    plain = {"date": str(orgs.day)}
    naming_a = {**plain, **_a_ids_as_filters(orgs.objects)}
    for name, client in orgs.users.items():
        for params, ids_sent in ((plain, False), (naming_a, True)):
            response = _get_known(client, f"/api/v1/{route}", params)
            assert response.status_code < 500, f"{name} GET {route} -> {response.status_code}"
            _assert_nothing_of_a(orgs, response, f"{name} GET {route}?{params}", ids_sent=ids_sent)
        for method in METHODS[1:]:
            response = getattr(client, method)(f"/api/v1/{route}", naming_a, format="json")
            assert response.status_code < 500, f"{name} {method.upper()} {route} -> {response.status_code}"
            _assert_nothing_of_a(orgs, response, f"{name} {method.upper()} {route}", ids_sent=True)
        if route == "buffers/suggested" and name == "coordinator_b":
            # Numbers, not names: A's completed visit must not count among B's samples.
            results = client.get(f"/api/v1/{route}").json()["results"]
            assert {r["care_setting"]: r["samples"] for r in results} == dict.fromkeys(
                (c.value for c in m.CareSetting), 0
            )
        if route == "plans" and name == "coordinator_b":
            listed = {r["id"] for r in client.get(f"/api/v1/{route}").json()["results"]}
            assert orgs.objects["plans"].pk not in listed
    assert _snapshot(orgs.organization) == before
