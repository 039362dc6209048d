"""What each calendar may carry, swept over a small organisation with every sensitive field filled in.

A calendar carries time, place, initials, visit kind and a link to the visit in Rounds, for everyone:
calendar apps sync it to third parties. So no feed and no single-visit download ever holds a
precaution, access note, instruction or anything clinical, not even for the visit's own therapist.
Each sensitive value is a marker that cannot occur by chance; bodies are unfolded (RFC 5545 folds lines
at 75 octets, which could split a marker) before they are searched.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest

from dispatch import models as m
from dispatch.services.feed_tokens import feed_token_rotate
from tests import factories as f
from tests.conftest import _client_for
from tests.feeds.conftest import local_at, parse_both, scheduled_visit, unfolded

# Bedside notes are read in the app, signed in; in a calendar they are as much out of place as the rest.
NEVER = (
    "diagnosis", "clinician", "payer", "phone", "contra", "reason", "first", "last",
    "precaution", "site", "access", "instructions",
)
BIRTH_DATE = dt.date(1931, 5, 17)
# The ways a date of birth gets written; a bare "1931" would also match random hex in ids and event UUIDs.
BIRTH_DATE_FORMS = ("19310517", "1931-05-17", "17/05/1931", "05/17/1931", "May 17, 1931", "17 May 1931")


def _markers(tag: str) -> dict[str, str]:
    return {field: f"Qz{field}{tag}" for field in NEVER}


@dataclass
class World:
    org: m.Organization
    facilities: dict[str, m.Facility]
    therapists: dict[str, m.Therapist]
    markers: dict[str, dict[str, str]]  # patient tag -> field -> marker
    visits: dict[str, m.Visit]  # name -> visit; the name says therapist, patient tag and status


def _patient(org: m.Organization, tag: str, facility: m.Facility | None) -> tuple[m.Patient, dict[str, str]]:
    mk = _markers(tag)
    patient = f.PatientFactory(
        organization=org,
        facility=facility,
        first_name=mk["first"],
        last_name=mk["last"],
        diagnosis=mk["diagnosis"],
        referring_clinician=mk["clinician"],
        payer=mk["payer"],
        phone=mk["phone"],
        access_notes=mk["access"],
        date_of_birth=BIRTH_DATE,
    )
    m.Precaution.objects.create(patient=patient, kind="device", body_site=mk["site"], note=mk["precaution"])
    m.Contraindication.objects.create(
        patient=patient,
        kind="other",
        note=mk["contra"],
        active_from=dt.date(2020, 1, 1),
        active_until=dt.date(2020, 1, 2),
    )
    return patient, mk


@pytest.fixture
def world(organization) -> World:
    facilities = {tag: f.FacilityFactory(organization=organization) for tag in ("A", "B")}
    therapists = {tag: f.TherapistFactory(organization=organization) for tag in ("T1", "T2")}
    patients, markers = {}, {}
    for tag, facility in (("home", None), ("A", facilities["A"]), ("B", facilities["B"])):
        patients[tag], markers[tag] = _patient(organization, tag, facility)

    def visit(therapist: str, tag: str, day: int, hhmm: str, **extra) -> m.Visit:
        return scheduled_visit(
            therapist=therapists[therapist],
            start=local_at(day, hhmm),
            patient=patients[tag],
            instructions=markers[tag]["instructions"],
            **extra,
        )

    visits = {
        "T1-home": visit("T1", "home", 1, "09:00"),
        "T1-A": visit("T1", "A", 1, "11:00"),
        "T2-B": visit("T2", "B", 1, "09:00"),
        "T2-A": visit("T2", "A", 2, "09:00"),
        "T1-B-cancelled": visit(
            "T1", "B", 3, "09:00", status=m.VisitStatus.CANCELLED, status_reason=markers["B"]["reason"]
        ),
    }
    return World(organization, facilities, therapists, markers, visits)


def _uids(body: bytes) -> set[str]:
    cal, vcal = parse_both(body)
    uids = {str(e["UID"]) for e in cal.walk("VEVENT") if str(e["UID"]).startswith("visit-")}
    assert uids == {e.uid.value for e in vcal.vevent_list if e.uid.value.startswith("visit-")}
    return uids


def _uid(world: World, name: str) -> str:
    return f"visit-{world.visits[name].pk}@{world.org.slug}.rounds"


def _all_markers(world: World, fields: tuple[str, ...]) -> list[str]:
    return [mk[field] for mk in world.markers.values() for field in fields]


@pytest.mark.parametrize(
    ("therapist", "own"),
    [("T1", {"T1-home", "T1-A", "T1-B-cancelled"}), ("T2", {"T2-B", "T2-A"})],
)
def test_a_therapist_feed_has_their_visits_and_nothing_clinical_or_from_the_bedside_notes(
    world, anonymous_client, therapist, own
):
    _, token = feed_token_rotate(therapist=world.therapists[therapist])
    body = anonymous_client.get(f"/feeds/therapists/{token}.ics").content
    text = unfolded(body)

    assert _uids(body) == {_uid(world, name) for name in own}
    for secret in _all_markers(world, NEVER):
        assert secret not in text
    assert not [form for form in BIRTH_DATE_FORMS if form in text]


@pytest.mark.parametrize(
    ("facility", "own"),
    [("A", {"T1-A", "T2-A"}), ("B", {"T2-B", "T1-B-cancelled"})],
)
def test_a_facility_feed_has_its_visits_and_no_intake_detail(world, anonymous_client, facility, own):
    _, token = feed_token_rotate(facility=world.facilities[facility])
    body = anonymous_client.get(f"/feeds/facilities/{token}.ics").content
    text = unfolded(body)

    assert _uids(body) == {_uid(world, name) for name in own}
    for secret in _all_markers(world, NEVER):
        assert secret not in text
    other = world.facilities["B" if facility == "A" else "A"]
    assert other.name not in text
    assert "Travel" not in text


def test_single_visit_downloads_follow_the_same_rules(world):
    visit = world.visits["T1-A"]
    path = f"/api/v1/visits/{visit.pk}.ics"
    staff_a = f.FacilityStaffFactory(organization=world.org, facility=world.facilities["A"])
    staff_b = f.FacilityStaffFactory(organization=world.org, facility=world.facilities["B"])
    coordinator = f.UserFactory(organization=world.org, role=m.Role.COORDINATOR)

    for user in (world.therapists["T1"].user, coordinator, staff_a):
        response = _client_for(user).get(path)
        assert response.status_code == 200, user
        text = unfolded(response.content)
        assert _uids(response.content) == {_uid(world, "T1-A")}
        for secret in _all_markers(world, NEVER):
            assert secret not in text
    for user in (world.therapists["T2"].user, staff_b, f.UserFactory(role=m.Role.COORDINATOR)):
        assert _client_for(user).get(path).status_code == 404


def test_no_calendar_byte_holds_a_note_of_the_fixture(world, anonymous_client):
    """Every feed and every single-visit download there is, against every note written in the fixture:
    precautions' notes and body sites, access notes, instructions, diagnoses, contraindications, reasons."""
    notes = [
        *m.Precaution.objects.values_list("note", flat=True),
        *m.Precaution.objects.exclude(body_site="").values_list("body_site", flat=True),
        *m.Patient.objects.exclude(access_notes="").values_list("access_notes", flat=True),
        *m.Patient.objects.values_list("diagnosis", flat=True),
        *m.Contraindication.objects.values_list("note", flat=True),
        *m.Visit.objects.exclude(instructions="").values_list("instructions", flat=True),
        *m.Visit.objects.exclude(status_reason="").values_list("status_reason", flat=True),
    ]
    assert len(notes) >= 3 * 7
    coordinator = f.UserFactory(organization=world.org, role=m.Role.COORDINATOR)
    bodies = []
    for therapist in world.therapists.values():
        _, token = feed_token_rotate(therapist=therapist)
        for query in ("", "?travel=0"):
            bodies.append(anonymous_client.get(f"/feeds/therapists/{token}.ics{query}"))
    for facility in world.facilities.values():
        _, token = feed_token_rotate(facility=facility)
        bodies.append(anonymous_client.get(f"/feeds/facilities/{token}.ics"))
        staff = f.FacilityStaffFactory(organization=world.org, facility=facility)
        bodies.append(anonymous_client.get(urlsplit(_client_for(staff).get("/api/v1/me/feed").data["url"]).path))
    for visit in world.visits.values():
        for user in (coordinator, visit.therapist.user):
            bodies.append(_client_for(user).get(f"/api/v1/visits/{visit.pk}.ics"))
    assert all(response.status_code == 200 for response in bodies)
    assert sum(len(_uids(response.content)) for response in bodies) > len(bodies)
    for response in bodies:
        raw, text = response.content, unfolded(response.content)
        for note in notes:
            assert note.encode() not in raw and note not in text, note
