"""The attacks a penetration test made, sent to every operation the OpenAPI schema lists.

Schemathesis (test_schema_fuzz.py) generates mostly valid requests; these are the invalid ones that
broke the API before: ids beyond 64 bits and words in every path parameter, ids beyond 64 bits in every
integer query parameter, and a JSON body nested 5000 levels deep for every operation that takes one.
None may answer 5xx, and every error is JSON.
"""
from __future__ import annotations

import re

import pytest
from knox.models import AuthToken
from rest_framework.test import APIClient

from tests import factories as f
from tests.fuzz.test_schema_fuzz import _openapi

HUGE = "99999999999999999999999"
SCHEMA = _openapi()
OPERATIONS = [
    (method.upper(), path, operation)
    for path, item in SCHEMA["paths"].items()
    for method, operation in item.items()
    if method in ("get", "post", "put", "patch", "delete")
]


def _parameters(operation: dict, where: str) -> list[dict]:
    return [p for p in operation.get("parameters", []) if p["in"] == where]


def attacks(path: str, operation: dict) -> list[tuple[str, str, str | None]]:
    """(label, url, body) for one operation; path parameters not under attack get 1 (often an existing id)."""
    names = re.findall(r"\{(\w+)\}", path)
    found = []
    for name in names:
        for value in (HUGE, "abc", f"-{HUGE}"):
            url = path
            for other in names:
                url = url.replace("{" + other + "}", value if other == name else "1")
            found.append((f"path {name}={value}", url, None))
    base = path
    for name in names:
        base = base.replace("{" + name + "}", "1")
    for parameter in _parameters(operation, "query"):
        if parameter.get("schema", {}).get("type") == "integer":
            found.append((f"query {parameter['name']}={HUGE}", f"{base}?{parameter['name']}={HUGE}", None))
    if "requestBody" in operation:
        found.append(("body nested 5000 deep", base, "[" * 5000))
        found.append(("body object nested 5000 deep", base, '{"a":' * 5000))
    return found


@pytest.fixture
def coordinator_client(db, settings):
    settings.ROUNDS_PLAN_MAX_TIME_LIMIT_S = 1.0
    org = f.OrganizationFactory()
    coordinator = f.UserFactory(organization=org)
    therapist = f.TherapistFactory(organization=org)
    patient = f.PatientFactory(organization=org, facility=f.FacilityFactory(organization=org))
    f.VisitFactory(organization=org, patient=patient)
    _ = therapist
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {AuthToken.objects.create(user=coordinator)[1]}")
    return client


def test_the_attacks_reach_every_operation():
    assert len(OPERATIONS) >= 40
    assert sum(len(attacks(path, op)) for _, path, op in OPERATIONS) >= 150


@pytest.mark.parametrize("method, path, operation", OPERATIONS, ids=[f"{m} {p}" for m, p, _ in OPERATIONS])
def test_no_attack_gets_a_server_error(coordinator_client, method, path, operation):
    for label, url, body in attacks(path, operation):
        response = coordinator_client.generic(
            method, url, body or "", content_type="application/json" if body else None
        )
        assert response.status_code < 500, (label, url, response.status_code, response.content[:300])
        if response.status_code >= 400 and response.content:
            assert response["Content-Type"].startswith("application/json"), (label, url, response["Content-Type"])
