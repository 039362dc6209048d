from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from dispatch.models import CareSetting, Visit, VisitStatus
from dispatch.selectors.buffers import BUFFER_MIN_SAMPLES, percentile, suggested_buffer_map, suggested_buffer_min
from tests import factories as f


def _completed(organization, *, facility=None, overrun_min: float, count: int = 1) -> None:
    day = timezone.localdate() - dt.timedelta(days=3)
    for _ in range(count):
        patient = f.PatientFactory(organization=organization, facility=facility)
        visit = f.VisitFactory(organization=organization, patient=patient, date=day, duration_min=30)
        start = f.local(day, "09:00")
        # History written as check-in/out would leave it; the lifecycle is tested elsewhere.
        Visit.objects.filter(pk=visit.pk).update(
            status=VisitStatus.COMPLETED,
            therapist=f.TherapistFactory(organization=organization),
            planned_start=start,
            planned_end=start + dt.timedelta(minutes=30),
            planned_busy_until=start + dt.timedelta(minutes=35),
            actual_start=start,
            actual_end=start + dt.timedelta(minutes=30 + overrun_min),
        )


def test_percentile_interpolates_between_ranks():
    assert percentile([0, 10, 20, 30, 40], 80) == 32
    assert percentile([7], 80) == 7


def test_suggestion_is_the_80th_percentile_of_overruns_per_care_setting(organization, facility):
    _completed(organization, facility=facility, overrun_min=10, count=BUFFER_MIN_SAMPLES - 4)
    _completed(organization, facility=facility, overrun_min=40, count=4)

    assert suggested_buffer_min(organization, CareSetting.HOSPITAL) == 16  # p80 of 16×10 and 4×40 = 16
    assert suggested_buffer_min(organization, CareSetting.HOME) == 5  # no samples: the default


def test_too_few_samples_keep_the_current_default(organization, facility):
    _completed(organization, facility=facility, overrun_min=45, count=BUFFER_MIN_SAMPLES - 1)

    assert suggested_buffer_map(organization=organization)[CareSetting.HOSPITAL] == 15


@pytest.mark.parametrize(("overrun", "expected"), [(-10, 0), (90, 60)])
def test_suggestion_is_clamped_to_zero_to_sixty_minutes(organization, overrun, expected):
    _completed(organization, overrun_min=overrun, count=BUFFER_MIN_SAMPLES)

    assert suggested_buffer_min(organization, CareSetting.HOME) == expected


def test_coordinator_reads_the_suggestions_per_care_setting(organization, facility, coordinator_client):
    _completed(organization, facility=facility, overrun_min=12, count=BUFFER_MIN_SAMPLES)

    response = coordinator_client.get("/api/v1/buffers/suggested")

    assert response.status_code == 200
    hospital = next(r for r in response.data["results"] if r["care_setting"] == "hospital")
    assert hospital == {
        "care_setting": "hospital",
        "samples": BUFFER_MIN_SAMPLES,
        "p50": 12.0,
        "p80": 12.0,
        "current_default_min": 15,
        "suggested_min": 12,
    }


def test_therapists_may_not_read_the_suggestions(therapist_client):
    assert therapist_client.get("/api/v1/buffers/suggested").status_code == 403


def test_a_plan_never_reserves_less_buffer_than_the_booking_holds(organization, coordinator_client):
    # Found by the simulation (seed 3, 28 days): once home sessions had ended early twenty times, plans packed
    # visits by the learned buffer (0 min) while applying booked the home default (5 min); from day 14 fresh
    # plans were refused ("would overlap"), or booked visits with no time to travel or past the shift's end.
    _completed(organization, overrun_min=-5, count=BUFFER_MIN_SAMPLES)
    assert suggested_buffer_min(organization, CareSetting.HOME) == 0
    day = f.tomorrow()
    therapist = f.TherapistFactory(organization=organization)
    patient = f.PatientFactory(organization=organization)
    first, second = (
        f.VisitFactory(organization=organization, patient=patient, date=day, duration_min=30, windows=[window])
        for window in (("09:00", "09:30"), ("09:30", "10:30"))
    )
    body = {"date": str(day), "time_limit_s": 1, "therapists": [therapist.pk]}
    run = coordinator_client.post("/api/v1/plans", body, format="json").data
    assert {s["visit_id"] for r in run["result"]["routes"] for s in r["stops"]} == {first.pk, second.pk}
    assert coordinator_client.post(f"/api/v1/plans/{run['id']}/apply").status_code == 200
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.therapist == second.therapist == therapist
    assert second.planned_start >= first.planned_busy_until == f.local(day, "09:35")
