"""The API reference at /api/schema/ (and /api/docs/) is written for its callers and shows every refusal."""
from __future__ import annotations

import pytest
import yaml

METHODS = ("get", "post", "put", "patch", "delete")


@pytest.fixture
def schema(client) -> dict:
    answer = client.get("/api/schema/")
    assert answer.status_code == 200
    return yaml.safe_load(answer.content)


def _operations(schema):
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            if method in METHODS:
                yield path, method, operation


@pytest.mark.django_db
def test_every_operation_says_what_it_does_and_who_may(schema):
    undocumented = [
        f"{method.upper()} {path}"
        for path, method, op in _operations(schema)
        if not op.get("summary") or len(op.get("description", "")) < 20
    ]
    assert not undocumented
    # Not notes about the code: no serializer or service talk in what callers read.
    code_talk = [op["operationId"] for _, _, op in _operations(schema) if "serializer" in op["description"].lower()]
    assert not code_talk


@pytest.mark.django_db
def test_every_refusal_an_operation_can_give_is_documented_with_an_example_body(schema):
    missing = []
    for path, method, op in _operations(schema):
        expected = set()
        if method in ("post", "put", "patch"):
            expected.add("400")
        if "{" in path:
            expected.add("404")
        if not path.startswith("/feeds/") and op["operationId"] != "api_v1_auth_token_create":
            expected |= {"401", "403"}
        calendar = "text/calendar" in op["responses"].get("200", {}).get("content", {})
        for status in expected:
            answer = op["responses"].get(status)
            if calendar and answer is not None:  # a calendar route's refusals have no body to show
                continue
            example = answer and answer.get("content", {}).get("application/json", {}).get("examples")
            if not example:
                missing.append(f"{method.upper()} {path} {status}")
    assert not missing, missing[:20]


@pytest.mark.django_db
def test_the_apply_refusal_example_is_the_message_the_api_really_gives(schema, coordinator_client, organization):
    from dispatch.services.plans import DROPS_BOOKED

    example = schema["paths"]["/api/v1/plans/{plan_id}/apply"]["post"]["responses"]["409"]
    body = example["content"]["application/json"]["examples"]["example"]["value"]
    assert body["code"] == "drops_booked_visits"
    assert body["detail"] == DROPS_BOOKED.format(plan=42, count=2, visits="118, 131")


@pytest.mark.django_db
def test_the_reference_page_renders(client):
    answer = client.get("/api/docs/")
    assert answer.status_code == 200
    assert b"swagger-ui" in answer.content.lower()
