"""A visit's check constraints, asked in one query, say what Django's own one-at-a-time validation says."""
from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, models
from django.test.utils import CaptureQueriesContext

from dispatch.models import Visit, VisitStatus
from tests import factories as f

pytestmark = pytest.mark.django_db

# Each row breaks the named constraints and nothing else.
BROKEN = [
    ({"duration_min": 10}, {"visit_duration_range"}),
    ({"buffer_min": 61}, {"visit_buffer_range"}),
    ({"status": "lost"}, {"visit_status_valid"}),
    ({"status": VisitStatus.SCHEDULED}, {"visit_assigned_has_therapist_and_time"}),
    ({"lat": 91.0}, {"visit_lat_range"}),
    ({"planned_start": "10:00", "planned_end": "09:30", "planned_busy_until": "09:45"},
     {"visit_planned_end_after_start"}),
    ({"planned_start": "09:00", "planned_end": "09:30", "planned_busy_until": "09:20"},
     {"visit_busy_until_not_before_end"}),
    ({"duration_min": 95, "buffer_min": 70}, {"visit_duration_range", "visit_buffer_range"}),
]


def _visit(**changes) -> Visit:
    visit = f.VisitFactory()
    for name, value in changes.items():
        setattr(visit, name, f.local(visit.date, value) if name.startswith("planned_") else value)
    return visit


def _errors(call) -> list[str]:
    try:
        call()
    except ValidationError as error:
        return sorted(error.messages)
    return []


def _djangos_own(visit: Visit, exclude=None) -> list[str]:
    return _errors(lambda: models.Model.validate_constraints(visit, exclude=exclude))


@pytest.mark.parametrize(("changes", "names"), BROKEN, ids=[" ".join(sorted(n)) for _, n in BROKEN])
def test_a_broken_rule_is_reported_as_django_reports_it(changes, names, django_assert_max_num_queries):
    visit = _visit(**changes)
    with django_assert_max_num_queries(3):  # the one query, in a savepoint when inside a transaction
        ours = _errors(lambda: visit.validate_constraints())

    assert ours == _djangos_own(visit)
    assert len(ours) == len(names)
    assert all(any(name in message for message in ours) for name in names)


def test_a_valid_row_passes_with_one_query_where_django_asks_once_per_constraint():
    visit = _visit(planned_start="09:00", planned_end="09:30", planned_busy_until="09:45")
    checks = [c for c in Visit._meta.constraints if isinstance(c, models.CheckConstraint)]
    assert len(checks) >= 6

    with CaptureQueriesContext(connection) as ours:
        visit.validate_constraints()
    with CaptureQueriesContext(connection) as djangos:
        assert _djangos_own(visit) == []

    # Inside a transaction (as every write is) each question goes in a savepoint: 3 round trips, not 3 a rule.
    selects = [q["sql"] for q in ours.captured_queries if q["sql"].startswith("SELECT")]
    assert len(selects) == 1 and len(ours.captured_queries) <= 3
    assert len(djangos.captured_queries) >= len(checks) * len(ours.captured_queries)


def test_a_rule_on_a_field_left_out_is_skipped_as_django_skips_it():
    visit = _visit(duration_min=10, buffer_min=61)

    assert _errors(lambda: visit.validate_constraints(exclude={"duration_min"})) == _djangos_own(
        visit, exclude={"duration_min"}
    )
    assert len(_errors(lambda: visit.validate_constraints(exclude={"duration_min", "buffer_min"}))) == 0


def test_a_null_time_passes_as_it_does_in_the_database():
    visit = _visit()
    visit.planned_start = visit.planned_end = visit.planned_busy_until = None
    visit.duration_min = 30

    assert _errors(lambda: visit.validate_constraints()) == [] == _djangos_own(visit)



def test_when_the_one_query_cannot_be_asked_django_asks_each_rule_as_before(monkeypatch):
    from dispatch.models import checks

    visit = _visit(duration_min=10, buffer_min=61)
    monkeypatch.setattr(checks, "_checked_at_once", lambda *args, **kwargs: None)  # as on a database error

    assert _errors(lambda: visit.validate_constraints()) == _djangos_own(visit)
    assert len(_errors(lambda: visit.validate_constraints())) == 2
