"""/healthz, /readyz, the locally served API docs, and the Content-Security-Policy header."""
from __future__ import annotations

import os
import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

CLOSED_PORT = "redis://127.0.0.1:1/0"


def test_liveness_answers_without_touching_the_database(db):
    with CaptureQueriesContext(connection) as queries:
        response = Client().get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}
    assert len(queries) == 0


def test_readiness_checks_the_database_and_the_cache(db):
    response = Client().get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "cache": "ok"}}


def test_readiness_fails_with_503_when_the_cache_is_unreachable(db, settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CLOSED_PORT}}
    response = Client().get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"] == {"database": "ok", "cache": "failed"}


def test_readiness_checks_a_configured_broker(db, settings):
    settings.CELERY_BROKER_URL, settings.CELERY_TASK_ALWAYS_EAGER = CLOSED_PORT, False
    response = Client().get("/readyz")
    assert response.status_code == 503 and response.json()["checks"]["broker"] == "failed"
    redis_url = os.environ.get("REDIS_TEST_URL")
    if redis_url:
        settings.CELERY_BROKER_URL = redis_url
        response = Client().get("/readyz")
        assert response.status_code == 200 and response.json()["checks"]["broker"] == "ok"


def test_swagger_ui_is_served_from_our_own_static_files(db):
    page = Client().get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    sources = re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', html)
    assert sources and all(src.startswith("/") for src in sources), sources
    assert "drf_spectacular_sidecar" in html
    assert "<script>" not in html  # the start-up script is a file of its own
    for src in sources:
        assert Client().get(src).status_code == 200, src


def test_the_api_docs_page_loads_the_schema_of_this_api(db):
    """/api/docs/ renders, its start-up script points Swagger UI at a schema URL, and that URL serves this API."""
    page = Client().get("/api/docs/")
    assert page.status_code == 200 and page["Content-Type"].startswith("text/html")
    script_src = re.search(r'<script src="(/api/docs/\?[^"]*)"', page.content.decode()).group(1)
    script = Client().get(script_src)
    assert script.status_code == 200
    schema_url = re.search(r'url: "([^"]+)"', script.content.decode()).group(1)
    schema = Client().get(schema_url, HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    spec = schema.json()
    assert spec["info"]["title"] == "Rounds API"
    assert {"/api/v1/visits", "/api/v1/plans/{plan_id}/apply", "/api/v1/auth/token"} <= set(spec["paths"])
    assert spec["components"]["securitySchemes"]["tokenAuth"]["name"] == "Authorization"


@pytest.mark.parametrize("path", ["/accounts/login/", "/admin/login/", "/api/docs/", "/board/"])
def test_pages_carry_a_content_security_policy_without_inline_scripts(db, path):
    policy = Client().get(path)["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";") if d.strip())
    assert directives["script-src"] == "'self'"
    assert directives["default-src"] == "'self'"
    assert directives["object-src"] == "'none'" and directives["frame-ancestors"] == "'none'"


def test_the_map_tile_server_is_the_one_other_image_origin():
    from config.settings import base

    assert base.ROUNDS_MAP_TILES_URL.startswith("https://tile.openstreetmap.org/")
    assert base.CONTENT_SECURITY_POLICY["DIRECTIVES"]["img-src"] == ["'self'", "data:", "https://tile.openstreetmap.org"]
