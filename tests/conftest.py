from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tests import factories as f


@pytest.fixture
def organization(db):
    return f.OrganizationFactory()


@pytest.fixture
def coordinator(organization):
    return f.UserFactory(organization=organization)


@pytest.fixture
def therapist(organization):
    return f.TherapistFactory(organization=organization)


@pytest.fixture
def facility(organization):
    return f.FacilityFactory(organization=organization)


@pytest.fixture
def facility_staff(facility):
    return f.FacilityStaffFactory(organization=facility.organization, facility=facility)


def _client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def coordinator_client(coordinator) -> APIClient:
    return _client_for(coordinator)


@pytest.fixture
def therapist_client(therapist) -> APIClient:
    return _client_for(therapist.user)


@pytest.fixture
def facility_staff_client(facility_staff) -> APIClient:
    return _client_for(facility_staff)


@pytest.fixture
def anonymous_client() -> APIClient:
    return APIClient()


@pytest.fixture
def wsgi_keeps_the_test_connection():
    """Requests sent to the WSGI application itself (not Django's test client) close the database connection as
    they start and end; Django's test client stops that, and so does this for a test that calls the application:
    on PostgreSQL the test's transaction lives on that connection."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture(autouse=True)
def _fresh_cache():
    """The local-memory cache outlives each test's transaction: rate-limit counts and cached schedules
    from one test must not reach the next."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


# PostgreSQL-only tests: the exclusion constraint, real row locks, a second process on a shared database.
POSTGRES_ONLY = "needs PostgreSQL: run `make test-pg`"


def _on_postgres() -> bool:
    from django.conf import settings

    return settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"


def pytest_collection_modifyitems(config, items) -> None:
    if _on_postgres():
        return
    for item in items:
        if item.get_closest_marker("postgres"):
            item.add_marker(pytest.mark.skip(reason=POSTGRES_ONLY))


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    """On SQLite, say loudly at the end how many of the tests that matter most did not run."""
    if _on_postgres():
        return
    skipped = sum(1 for report in terminalreporter.stats.get("skipped", []) if "postgres" in report.keywords)
    if skipped:
        message = f"{skipped} PostgreSQL-only tests skipped: run `make test-pg`"
        terminalreporter.write_sep("!", message, red=True, bold=True)


def pytest_sessionstart(session) -> None:
    """ROUNDS_TEST_CLOCK=2026-12-02T10:30:00-05:00 runs the whole suite from that moment on a running clock: the
    suite must pass at any hour (a test once failed only before 09:00 Toronto), and this tries an hour at will."""
    import os

    if at := os.environ.get("ROUNDS_TEST_CLOCK"):
        import datetime as dt

        import time_machine

        session.config._rounds_clock = time_machine.travel(dt.datetime.fromisoformat(at), tick=True)
        session.config._rounds_clock.start()
