from __future__ import annotations

import datetime as dt

import time_machine

from django.utils import timezone

from dispatch import models as m
from dispatch.selectors.feeds import feed_visit_list
from tests import factories as f
from tests.feeds.conftest import events_by_uid, local_at, parse_both, scheduled_visit, unfolded

UTC = dt.UTC


def _get(client, token: str, kind: str = "therapists", query: str = ""):
    return client.get(f"/feeds/{kind}/{token}.ics{query}")


def test_therapist_feed_is_a_valid_calendar_for_both_parsers(anonymous_client, therapist, therapist_feed, home_patient):
    visit = scheduled_visit(therapist=therapist, start=local_at(2, "10:30"), patient=home_patient, travel_min=25)
    response = _get(anonymous_client, therapist_feed[1])

    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    cal, vcal = parse_both(response.content)
    for prop, value in [
        ("VERSION", "2.0"),
        ("CALSCALE", "GREGORIAN"),
        ("METHOD", "PUBLISH"),
        ("X-WR-TIMEZONE", "America/Toronto"),
    ]:
        assert str(cal[prop]) == value
    assert "Rounds" in str(cal["PRODID"])
    assert str(cal["X-WR-CALNAME"]) == str(cal["NAME"]) == f"Rounds — {therapist.display_name}"
    assert b"REFRESH-INTERVAL;VALUE=DURATION:PT1H" in response.content
    assert b"X-PUBLISHED-TTL:PT1H" in response.content
    assert [str(tz["TZID"]) for tz in cal.walk("VTIMEZONE")] == ["America/Toronto"]
    assert vcal.vtimezone.tzid.value == "America/Toronto"

    event = events_by_uid(cal)[f"visit-{visit.pk}@{therapist.organization.slug}.rounds"]
    assert event["SEQUENCE"] == 1
    assert event["DTSTART"].params["TZID"] == "America/Toronto"
    assert event.decoded("DTSTART").replace(tzinfo=None) == local_at(2, "10:30").replace(tzinfo=None)
    assert event.decoded("DTEND") - event.decoded("DTSTART") == dt.timedelta(minutes=45)
    assert str(event["LOCATION"]) == "12 Elm St, Toronto"
    assert (event["GEO"].latitude, event["GEO"].longitude) == (float(visit.lat), float(visit.lon))
    assert str(event["SUMMARY"]) == "Massage visit (home) — M.C."
    assert str(event["STATUS"]) == "TENTATIVE"
    assert event.decoded("LAST-MODIFIED") == visit.updated_at.replace(microsecond=0)
    assert "CREATED" in event and "DTSTAMP" in event

    v_event = next(e for e in vcal.vevent_list if e.uid.value == str(event["UID"]))
    assert v_event.dtstart.value.astimezone(UTC) == local_at(2, "10:30").astimezone(UTC)
    assert v_event.summary.value == "Massage visit (home) — M.C."


def test_a_therapists_event_links_to_the_app_and_carries_no_bedside_or_clinical_note(
    settings, anonymous_client, therapist, therapist_feed, home_patient
):
    settings.ROUNDS_PUBLIC_URL = "https://rounds.example.org"
    visit = scheduled_visit(
        therapist=therapist, start=local_at(1), patient=home_patient, instructions="Bring the bolster"
    )
    body = unfolded(_get(anonymous_client, therapist_feed[1]).content)
    cal, _ = parse_both(_get(anonymous_client, therapist_feed[1]).content)
    (event,) = [e for e in cal.walk("VEVENT") if str(e["UID"]).startswith("visit-")]

    link = f"https://rounds.example.org/app/?date={visit.date.isoformat()}"
    assert str(event["URL"]) == link
    assert str(event["DESCRIPTION"]) == f"Precautions, access notes and instructions: open Rounds (signed in) at {link}"
    assert str(event["SUMMARY"]) == "Massage visit (home) — M.C."
    assert str(event["LOCATION"]) == "12 Elm St, Toronto"  # a home address is the place: allowed
    for secret in ["PICC", "left forearm", "Semi-reclined", "Side door", "4412", "Bring the bolster",
                   "Metastatic", "Okafor", "WSIB", "DVT", "Maria", "Costa"]:
        assert secret not in body


def test_travel_block_ends_at_the_visit_start_and_can_be_turned_off(anonymous_client, therapist, therapist_feed):
    visit = scheduled_visit(therapist=therapist, start=local_at(3, "13:00"), travel_min=25)
    slug = therapist.organization.slug
    events = events_by_uid(parse_both(_get(anonymous_client, therapist_feed[1]).content)[0])
    travel = events[f"travel-{visit.pk}@{slug}.rounds"]
    assert str(travel["SUMMARY"]) == "Travel"
    assert str(travel["TRANSP"]) == "OPAQUE"
    assert travel.decoded("DTEND") == events[f"visit-{visit.pk}@{slug}.rounds"].decoded("DTSTART")
    assert travel.decoded("DTEND") - travel.decoded("DTSTART") == dt.timedelta(minutes=25)

    without = events_by_uid(parse_both(_get(anonymous_client, therapist_feed[1], query="?travel=0").content)[0])
    assert list(without) == [f"visit-{visit.pk}@{slug}.rounds"]


def test_a_travel_block_across_the_spring_clock_change_starts_when_the_therapist_really_leaves(
    anonymous_client, therapist, therapist_feed
):
    """A 03:15 visit on the night clocks go forward, 45 min away: the therapist leaves at 01:30 EST. Adding on
    the wall clock gave 02:30, an hour that does not exist, which icalendar and vobject read an hour apart."""
    with time_machine.travel(dt.datetime(2030, 3, 8, 12, tzinfo=UTC), tick=False):
        start = f.local(dt.date(2030, 3, 10), "03:15")
        visit = scheduled_visit(therapist=therapist, start=start, travel_min=45)
        body = _get(anonymous_client, therapist_feed[1]).content
    mine, theirs = parse_both(body)
    uid = f"travel-{visit.pk}@{therapist.organization.slug}.rounds"
    travel = events_by_uid(mine)[uid]
    other = next(e for e in theirs.contents["vevent"] if e.uid.value == uid)
    left = start.astimezone(UTC) - dt.timedelta(minutes=45)
    assert travel.decoded("DTSTART") == left == other.dtstart.value
    assert left.astimezone(f.TORONTO).strftime("%H:%M %Z") == "01:30 EST"


def test_statuses_map_to_ical_and_requested_visits_stay_out(anonymous_client, therapist, therapist_feed):
    confirmed = scheduled_visit(therapist=therapist, start=local_at(1, "09:00"), status=m.VisitStatus.CONFIRMED)
    completed = scheduled_visit(therapist=therapist, start=local_at(-1, "09:00"), status=m.VisitStatus.COMPLETED)
    requested = f.VisitFactory(organization=therapist.organization)
    events = {
        e["UID"]: str(e["STATUS"])
        for e in parse_both(_get(anonymous_client, therapist_feed[1]).content)[0].walk("VEVENT")
    }
    slug = therapist.organization.slug
    assert events[f"visit-{confirmed.pk}@{slug}.rounds"] == "CONFIRMED"
    assert events[f"visit-{completed.pk}@{slug}.rounds"] == "CONFIRMED"
    assert f"visit-{requested.pk}@{slug}.rounds" not in events


def test_cancelled_visits_show_as_cancelled_for_14_days_then_go(
    anonymous_client, therapist, therapist_feed, home_patient
):
    recent = scheduled_visit(
        therapist=therapist, start=local_at(2), status=m.VisitStatus.CANCELLED, patient=home_patient
    )
    old = scheduled_visit(therapist=therapist, start=local_at(3), status=m.VisitStatus.CANCELLED)
    m.Visit.objects.filter(pk=recent.pk).update(updated_at=timezone.now() - dt.timedelta(days=13))
    m.Visit.objects.filter(pk=old.pk).update(updated_at=timezone.now() - dt.timedelta(days=16))
    events = events_by_uid(parse_both(_get(anonymous_client, therapist_feed[1]).content)[0])
    slug = therapist.organization.slug
    cancelled = events[f"visit-{recent.pk}@{slug}.rounds"]
    assert str(cancelled["STATUS"]) == "CANCELLED"
    assert str(cancelled["SUMMARY"]) == "Cancelled: Massage visit (home) — M.C."
    assert "Side door" not in str(cancelled["DESCRIPTION"]) and "PICC" not in str(cancelled["DESCRIPTION"])
    assert f"travel-{recent.pk}@{slug}.rounds" not in events
    assert f"visit-{old.pk}@{slug}.rounds" not in events


def test_feed_covers_the_last_14_days_and_the_next_60(therapist):
    inside = [scheduled_visit(therapist=therapist, start=local_at(d)) for d in (-14, 0, 60)]
    outside = [scheduled_visit(therapist=therapist, start=local_at(d)) for d in (-15, 61)]
    ids = set(feed_visit_list(therapist=therapist).values_list("id", flat=True))
    assert ids == {v.pk for v in inside}
    assert not ids & {v.pk for v in outside}


def test_a_rescheduled_visit_keeps_its_uid_with_a_higher_sequence(anonymous_client, therapist, therapist_feed):
    from dispatch.services.booking import visit_book

    day = timezone.localdate(timezone=f.TORONTO) + dt.timedelta(days=2)
    visit = f.VisitFactory(organization=therapist.organization, date=day, windows=[("09:00", "16:00")])
    visit_book(visit=visit, therapist=therapist, planned_start=f.local(day, "09:00"))
    uid = f"visit-{visit.pk}@{therapist.organization.slug}.rounds"
    first = events_by_uid(parse_both(_get(anonymous_client, therapist_feed[1]).content)[0])[uid]

    visit_book(visit=visit, therapist=therapist, planned_start=f.local(day, "14:00"))
    second = events_by_uid(parse_both(_get(anonymous_client, therapist_feed[1]).content)[0])[uid]

    assert second["SEQUENCE"] > first["SEQUENCE"]
    assert second.decoded("DTSTART") == f.local(day, "14:00")


def test_no_therapist_feed_carries_another_therapists_visit(anonymous_client, therapist, therapist_feed):
    other = f.TherapistFactory(organization=therapist.organization)
    mine = scheduled_visit(therapist=therapist, start=local_at(1))
    theirs = scheduled_visit(therapist=other, start=local_at(1, "14:00"))
    uids = set(events_by_uid(parse_both(_get(anonymous_client, therapist_feed[1]).content)[0]))
    slug = therapist.organization.slug
    assert f"visit-{mine.pk}@{slug}.rounds" in uids
    assert not any(str(theirs.pk) == u.split("@")[0].split("-")[1] for u in uids)


def test_facility_feed_has_its_visits_without_intake_detail(anonymous_client, therapist, facility, facility_feed):
    patient = f.PatientFactory(
        organization=facility.organization,
        facility=facility,
        first_name="Ann",
        last_name="Lee",
        access_notes="Ward 4 code 99",
    )
    m.Precaution.objects.create(patient=patient, kind="wound", body_site="sacrum", note="Stage 2")
    here = scheduled_visit(therapist=therapist, start=local_at(1), patient=patient, instructions="Call the nurse")
    other_facility = f.FacilityFactory(organization=facility.organization)
    elsewhere = scheduled_visit(therapist=therapist, start=local_at(1, "14:00"), facility=other_facility)

    response = _get(anonymous_client, facility_feed[1], kind="facilities")
    cal, _ = parse_both(response.content)
    events = events_by_uid(cal)
    slug = facility.organization.slug
    assert set(events) == {f"visit-{here.pk}@{slug}.rounds"}
    event = events[f"visit-{here.pk}@{slug}.rounds"]
    first_name = therapist.display_name.split()[0]
    assert str(event["SUMMARY"]) == f"Massage visit (hospital) — A.L. with {first_name}"
    assert str(event["LOCATION"]) == facility.name
    assert str(event["URL"]).endswith("/facility/")
    assert str(event["DESCRIPTION"]) == f"The visit: open Rounds (signed in) at {event['URL']}"
    for detail in [b"sacrum", b"Stage 2", b"Ward 4", b"Call the nurse", b"Metastatic", b"Travel", b"Open wound"]:
        assert detail not in response.content
    # The same therapist's visit at another facility the same day: neither its event nor its place is in this feed.
    assert f"visit-{elsewhere.pk}@{slug}.rounds" not in events
    assert other_facility.name.encode() not in response.content
    assert elsewhere.location_text.encode() not in response.content


def test_feed_queries_do_not_grow_with_the_visits(
    anonymous_client, therapist, therapist_feed, home_patient, django_assert_max_num_queries
):
    for day in range(1, 9):
        scheduled_visit(therapist=therapist, start=local_at(day), patient=home_patient)
        scheduled_visit(
            therapist=therapist,
            start=local_at(day, "14:00"),
            facility=f.FacilityFactory(organization=therapist.organization),
        )
    with django_assert_max_num_queries(8):
        response = anonymous_client.get(f"/feeds/therapists/{therapist_feed[1]}.ics")
    assert len(parse_both(response.content)[0].walk("VEVENT")) == 32
