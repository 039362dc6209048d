"""Schemathesis against our own OpenAPI schema: no 5xx, every documented response matches the schema.

The requests go through WSGI into the test database (one transaction, rolled back at the end), as a
coordinator of a small organisation so that ids in paths often exist. The number of examples per
operation is bounded so the suite stays fast.
"""
from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from config.wsgi import application
from tests import factories as f

MAX_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "6"))

def _openapi() -> dict:
    # Generated in-process: the schema view itself would need the database before any test has it.
    from drf_spectacular.generators import SchemaGenerator
    from rest_framework.renderers import JSONRenderer
    import json

    return json.loads(JSONRenderer().render(SchemaGenerator().get_schema(request=None, public=True)))


schema = schemathesis.openapi.from_dict(_openapi())
schema.app = application


@pytest.fixture(autouse=True)
def _keep_the_test_connection(wsgi_keeps_the_test_connection):
    """The WSGI application is called here, not Django's test client."""


@pytest.fixture
def coordinator_token(db, settings):
    settings.ROUNDS_PLAN_MAX_TIME_LIMIT_S = 1.0  # a fuzzed plan may not keep the suite waiting
    settings.ROUNDS_REPLAN_TIME_LIMIT_S = 0.5
    from knox.models import AuthToken

    org = f.OrganizationFactory()
    coordinator = f.UserFactory(organization=org)
    therapist = f.TherapistFactory(organization=org)
    facility = f.FacilityFactory(organization=org)
    patient = f.PatientFactory(organization=org, facility=facility)
    for _ in range(3):
        f.VisitFactory(organization=org, patient=patient)
    f.VisitFactory(organization=org)
    _ = therapist
    return AuthToken.objects.create(user=coordinator)[1]


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_no_operation_answers_5xx_or_breaks_its_schema(case, coordinator_token):
    case.call_and_validate(
        headers={"Authorization": f"Token {coordinator_token}"},
        checks=[not_a_server_error, response_schema_conformance, content_type_conformance],
    )
