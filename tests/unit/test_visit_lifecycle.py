from __future__ import annotations

import pytest

from dispatch.exceptions import DispatchError, TransitionNotAllowed
from dispatch.models import VisitStatus
from dispatch.services.visit_status import visit_transition
from tests.factories import TherapistFactory, VisitFactory, local

# The allowed status changes, written out here rather than read from dispatch.lifecycle.TRANSITIONS, so that a
# change to the code's table fails this test until someone decides the new rule is right. Row: from; column: to.
EXPECTED = """
                 requested  scheduled  confirmed  in_progress  completed  cancelled  no_show
    requested        .          Y          -           -           -          Y         -
    scheduled        Y          .          Y           Y           -          Y         Y
    confirmed        Y          Y          .           Y           -          Y         Y
    in_progress      -          -          -           .           Y          -         -
    completed        -          -          -           -           .          -         -
    cancelled        -          -          -           -           -          .         -
    no_show          -          -          -           -           -          -         .
"""


def _expected_table() -> dict[tuple[str, str], bool]:
    header, *rows = (line.split() for line in EXPECTED.strip().splitlines())
    return {(row[0], target): mark == "Y" for row in rows for target, mark in zip(header, row[1:], strict=True)
            if row[0] != target}


ALLOWED = _expected_table()
ALL_PAIRS = [(a, b) for a in VisitStatus for b in VisitStatus if a != b]


def test_the_expected_table_names_every_status_pair():
    assert set(ALLOWED) == {(a.value, b.value) for a, b in ALL_PAIRS}
    assert sum(ALLOWED.values()) == 13


def _visit_in(status: str, therapist):
    visit = VisitFactory(organization=therapist.organization)
    if status == VisitStatus.REQUESTED:
        return visit
    start = local(visit.date, "09:00")
    visit.therapist, visit.planned_start, visit.planned_end = therapist, start, local(visit.date, "09:30")
    visit.planned_busy_until = visit.planned_end
    visit.status = status
    visit.save()
    return visit


@pytest.mark.django_db
@pytest.mark.parametrize(("current", "target"), ALL_PAIRS)
def test_every_status_pair_is_allowed_or_refused_as_the_table_says(current, target):
    therapist = TherapistFactory()
    visit = _visit_in(current, therapist)
    allowed = ALLOWED[current, target]
    kwargs = {"reason": "Patient asleep"}
    if target in (VisitStatus.SCHEDULED, VisitStatus.CONFIRMED) and current == VisitStatus.REQUESTED:
        kwargs.update(therapist=therapist, planned_start=local(visit.date, "10:00"), planned_end=local(visit.date, "10:30"))
    if allowed:
        updated = visit_transition(visit=visit, target=target, **kwargs)
        assert updated.status == target
        assert updated.sequence == visit.sequence + 1
    else:
        with pytest.raises(TransitionNotAllowed, match=f"cannot go from {current} to {target}"):
            visit_transition(visit=visit, target=target, **kwargs)
        visit.refresh_from_db()
        assert visit.status == current


@pytest.mark.django_db
def test_cancelling_without_a_reason_is_refused():
    visit = VisitFactory()
    with pytest.raises(DispatchError, match="A reason is required"):
        visit_transition(visit=visit, target=VisitStatus.CANCELLED)


@pytest.mark.django_db
def test_scheduling_without_a_therapist_is_refused():
    visit = VisitFactory()
    with pytest.raises(DispatchError, match="needs a therapist"):
        visit_transition(visit=visit, target=VisitStatus.SCHEDULED)


@pytest.mark.django_db
def test_unassigning_clears_the_therapist_and_time():
    therapist = TherapistFactory()
    visit = _visit_in(VisitStatus.SCHEDULED, therapist)
    visit = visit_transition(visit=visit, target=VisitStatus.REQUESTED)
    assert (visit.therapist, visit.planned_start, visit.planned_busy_until) == (None, None, None)
