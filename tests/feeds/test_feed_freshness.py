from __future__ import annotations

from dispatch import models as m
from dispatch.services.visits import visit_location
from tests import factories as f
from tests.feeds.conftest import backdate_everything, events_by_uid, local_at, parse_both, scheduled_visit


def _url(token: str, kind: str = "therapists") -> str:
    return f"/feeds/{kind}/{token}.ics"


def test_a_renamed_patient_is_a_change_for_if_modified_since(
    anonymous_client, therapist, therapist_feed, home_patient
):
    """A client that only sends If-Modified-Since must not be told 304 when the initials it shows changed."""
    scheduled_visit(therapist=therapist, start=local_at(1), patient=home_patient)
    backdate_everything()
    first = anonymous_client.get(_url(therapist_feed[1]))
    unchanged = anonymous_client.get(_url(therapist_feed[1]), HTTP_IF_MODIFIED_SINCE=first["Last-Modified"])
    assert unchanged.status_code == 304

    home_patient.first_name = "Jana"
    home_patient.save()
    again = anonymous_client.get(_url(therapist_feed[1]), HTTP_IF_MODIFIED_SINCE=first["Last-Modified"])

    assert again.status_code == 200
    assert "— J.C." in again.content.decode()
    assert again["ETag"] != first["ETag"]


def test_precautions_added_or_removed_leave_the_feed_as_it_was(
    anonymous_client, therapist, therapist_feed, home_patient
):
    """Precautions are read in the app, never in a calendar: changing them changes nothing a feed shows."""
    scheduled_visit(therapist=therapist, start=local_at(1), patient=home_patient)
    backdate_everything()
    first = anonymous_client.get(_url(therapist_feed[1]))
    m.Precaution.objects.create(patient=home_patient, kind="pressure", note="Light pressure only")
    home_patient.precautions.get(kind="device").delete()
    for validator in ({"HTTP_IF_MODIFIED_SINCE": first["Last-Modified"]}, {"HTTP_IF_NONE_MATCH": first["ETag"]}):
        assert anonymous_client.get(_url(therapist_feed[1]), **validator).status_code == 304
    again = anonymous_client.get(_url(therapist_feed[1]))
    assert again.content == first.content
    assert b"Light pressure" not in again.content and b"PICC" not in again.content


def test_a_renamed_facility_is_a_change_for_the_facility_feed(anonymous_client, therapist, facility, facility_feed):
    patient = f.PatientFactory(organization=facility.organization, facility=facility)
    scheduled_visit(therapist=therapist, start=local_at(1), patient=patient)
    backdate_everything()
    first = anonymous_client.get(_url(facility_feed[1], kind="facilities"))
    facility.name = "St. Elsewhere Palliative Unit"
    facility.save()
    again = anonymous_client.get(
        _url(facility_feed[1], kind="facilities"), HTTP_IF_MODIFIED_SINCE=first["Last-Modified"]
    )
    assert again.status_code == 200
    assert str(parse_both(again.content)[0]["X-WR-CALNAME"]) == "Rounds — St. Elsewhere Palliative Unit"


def test_a_deactivated_therapist_reads_no_feed_until_reactivated(anonymous_client, therapist, therapist_feed):
    therapist.active = False
    therapist.save()
    assert anonymous_client.get(_url(therapist_feed[1])).status_code == 404
    therapist.active = True
    therapist.save()
    assert anonymous_client.get(_url(therapist_feed[1])).status_code == 200
    therapist.user.is_active = False
    therapist.user.save()
    assert anonymous_client.get(_url(therapist_feed[1])).status_code == 404


def test_facility_location_names_room_and_bed(anonymous_client, therapist, facility, facility_feed, therapist_feed):
    patient = f.PatientFactory(organization=facility.organization, facility=facility, room="412", bed="B")
    visit = scheduled_visit(therapist=therapist, start=local_at(1), patient=patient, **visit_location(patient=patient))
    uid = f"visit-{visit.pk}@{facility.organization.slug}.rounds"
    for token, kind in ((therapist_feed[1], "therapists"), (facility_feed[1], "facilities")):
        cal, vcal = parse_both(anonymous_client.get(_url(token, kind)).content)
        assert str(events_by_uid(cal)[uid]["LOCATION"]) == f"{facility.name}, room 412, bed B"
        v_event = next(e for e in vcal.vevent_list if e.uid.value == uid)
        assert v_event.location.value == f"{facility.name}, room 412, bed B"
        assert v_event.geo.value == f"{facility.lat};{facility.lon}"


def test_visit_ics_also_answers_at_the_file_path(therapist, therapist_client):
    visit = scheduled_visit(therapist=therapist, start=local_at(1))
    response = therapist_client.get(f"/api/v1/visits/{visit.pk}.ics")
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'inline; filename="rounds-visit-{visit.pk}.ics"'
    cal, vcal = parse_both(response.content)
    assert [str(e["UID"]) for e in cal.walk("VEVENT")] == [f"visit-{visit.pk}@{therapist.organization.slug}.rounds"]
    assert len(vcal.vevent_list) == 1


def test_schema_says_how_to_see_a_feed_url_again(coordinator_client):
    schema = coordinator_client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    description = schema["paths"]["/api/v1/me/feed"]["get"]["description"]
    assert "shown only" in description or "only when it is made" in description
    assert "rotate" in description
