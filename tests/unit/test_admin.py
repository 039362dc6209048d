from __future__ import annotations

import pytest
from django.forms import MultiWidget
from django.urls import reverse

from dispatch import models as m
from tests.factories import (
    CredentialTypeFactory,
    FacilityFactory,
    PatientFactory,
    TherapistFactory,
    UserFactory,
    VisitFactory,
)

# Users and organisations are for superusers (tests/security/test_admin_tenancy.py).
CHANGELISTS = [
    "skill", "credentialtype", "facility", "therapist", "availabilityexception",
    "patient", "contraindication", "precaution", "visit", "visitseries", "planrun",
]


@pytest.fixture
def admin_coordinator(organization):
    return UserFactory(organization=organization, is_staff=True, is_superuser=False)


@pytest.fixture
def admin_client_for_coordinator(client, admin_coordinator):
    from django.contrib.auth.models import Permission

    admin_coordinator.user_permissions.set(Permission.objects.filter(content_type__app_label="dispatch"))
    client.force_login(admin_coordinator)
    return client


@pytest.mark.parametrize("model", CHANGELISTS)
def test_every_changelist_opens_for_a_coordinator_with_admin_access(admin_client_for_coordinator, model):
    assert admin_client_for_coordinator.get(reverse(f"admin:dispatch_{model}_changelist")).status_code == 200


def test_the_visit_changelist_shows_only_the_coordinators_organisation(admin_client_for_coordinator, organization):
    ours = VisitFactory(organization=organization)
    theirs = VisitFactory()
    response = admin_client_for_coordinator.get(reverse("admin:dispatch_visit_changelist"))
    ids = {obj.pk for obj in response.context["cl"].result_list}
    assert ours.pk in ids and theirs.pk not in ids


def test_a_patients_history_page_opens(admin_client_for_coordinator, organization):
    patient = PatientFactory(organization=organization)
    url = reverse("admin:dispatch_patient_history", args=[patient.pk])
    assert admin_client_for_coordinator.get(url).status_code == 200


def _posted_back(response) -> dict:
    """What a browser posts when it submits the rendered admin form unchanged (inlines and their management forms
    included), so a test changes only the fields it names."""
    context = response.context
    forms = [context["adminform"].form]
    data: dict = {}
    for inline in context["inline_admin_formsets"]:
        formset = inline.formset
        management = formset.management_form
        data |= {management.add_prefix(name): management[name].value() for name in management.fields}
        forms += list(formset.forms)
    for form in forms:
        for name, field in form.fields.items():
            key, value = form.add_prefix(name), form[name].value()
            if value is None or value is False:
                continue
            if isinstance(field.widget, MultiWidget):
                parts = field.widget.decompress(value)
                data |= {f"{key}_{i}": part for i, part in enumerate(parts) if part is not None}
            elif value is True:
                data[key] = "on"
            elif isinstance(value, (list, tuple)):
                data[key] = [str(v) for v in value]
            else:
                data[key] = str(value)
    return data


@pytest.fixture
def records(organization):
    facility = FacilityFactory(organization=organization, name="Riverside Hospice")
    therapist = TherapistFactory(organization=organization, display_name="Amara Okafor")
    patient = PatientFactory(organization=organization, facility=facility)
    visit = VisitFactory(organization=organization, patient=patient)
    return {
        "facility": facility,
        "therapist": therapist,
        "patient": patient,
        "visit": visit,
        "availabilityexception": m.AvailabilityException.objects.create(
            therapist=therapist, date=visit.date, kind=m.ExceptionKind.TIME_OFF
        ),
        "contraindication": m.Contraindication.objects.create(
            patient=patient, kind=m.ContraindicationKind.FEVER, active_from=visit.date
        ),
        "credentialtype": CredentialTypeFactory(organization=organization),
    }


# (model, a field, its new value as posted, as stored)
CHANGES = [
    ("facility", "phone", "555-0199", "555-0199"),
    ("therapist", "max_visits_per_day", "5", 5),
    ("patient", "access_notes", "Ward 4, east doors", "Ward 4, east doors"),
    ("visit", "instructions", "Bring the bolster", "Bring the bolster"),
    ("availabilityexception", "note", "Dentist", "Dentist"),
    ("contraindication", "note", "Until the fever is gone", "Until the fever is gone"),
    ("credentialtype", "name", "Hospital badge", "Hospital badge"),
]


@pytest.mark.parametrize(("model", "field", "posted", "stored"), CHANGES, ids=[c[0] for c in CHANGES])
def test_a_coordinator_changes_their_own_record_through_the_admin_change_form(
    admin_client_for_coordinator, records, model, field, posted, stored
):
    obj = records[model]
    url = reverse(f"admin:dispatch_{model}_change", args=[obj.pk])
    page = admin_client_for_coordinator.get(url)
    assert page.status_code == 200
    response = admin_client_for_coordinator.post(url, {**_posted_back(page), field: posted})
    assert response.status_code == 302, response.context and response.context["adminform"].form.errors
    obj.refresh_from_db()
    assert getattr(obj, field) == stored


def test_a_coordinator_adds_records_through_the_admin_add_forms(admin_client_for_coordinator, organization, records):
    """Each add form, filled in as a coordinator would, creates the record in the coordinator's organisation."""
    day = records["visit"].date.isoformat()
    adds = {
        "facility": {"name": "Lakeshore Rehab", "kind": "rehab", "address": "5 Lake Rd", "lat": "43.64",
                     "lon": "-79.38", "checkin_overhead_min": "10"},
        "patient": {"first_name": "Ines", "last_name": "Moreau", "facility": records["facility"].pk,
                    "units_used": "0"},
        "availabilityexception": {"therapist": records["therapist"].pk, "date": day, "kind": "time_off",
                                  "note": "Course day"},
        "contraindication": {"patient": records["patient"].pk, "kind": "dvt", "active_from": day},
        "credentialtype": {"code": "sinai-badge", "name": "Sinai badge"},
        "visit": {"patient": records["patient"].pk, "location_text": "Riverside Hospice, room 4", "lat": "43.66",
                  "lon": "-79.39", "date": day, "duration_min": "45", "priority": "urgent", "windows-TOTAL_FORMS": "1",
                  # one window row, as the page's "Add another" makes it
                  "windows-0-start_0": day, "windows-0-start_1": "13:00", "windows-0-end_0": day,
                  "windows-0-end_1": "16:00"},
    }
    for model, fields in adds.items():
        url = reverse(f"admin:dispatch_{model}_add")
        page = admin_client_for_coordinator.get(url)
        assert page.status_code == 200, model
        response = admin_client_for_coordinator.post(url, {**_posted_back(page), **fields})
        assert response.status_code == 302, (model, response.context and response.context["adminform"].form.errors)
    assert m.Facility.objects.get(name="Lakeshore Rehab").organization == organization
    assert m.Patient.objects.get(last_name="Moreau").organization == organization
    assert m.AvailabilityException.objects.get(note="Course day").therapist == records["therapist"]
    assert m.Contraindication.objects.get(kind="dvt").patient == records["patient"]
    assert m.CredentialType.objects.get(code="sinai-badge").organization == organization
    visit = m.Visit.objects.get(location_text="Riverside Hospice, room 4")
    assert (visit.organization, visit.status, visit.windows.count()) == (organization, m.VisitStatus.REQUESTED, 1)


def test_time_off_added_in_the_admin_unbooks_the_visits_it_covers(admin_client_for_coordinator, organization):
    """As through /api/v1/availability/exceptions: the visit booked that day goes back to the requests, saying why."""
    import datetime as dt

    from dispatch.services.booking import visit_book
    from tests.factories import local

    day = dt.date(2027, 1, 14)
    therapist = TherapistFactory(organization=organization, display_name="Amara Okafor")
    visit = VisitFactory(organization=organization, date=day)
    visit_book(visit=visit, therapist=therapist, planned_start=local(day, "10:00"))
    url = reverse("admin:dispatch_availabilityexception_add")
    page = admin_client_for_coordinator.get(url)  # the day is still to come: nothing needs the clock moved
    response = admin_client_for_coordinator.post(url, {
        **_posted_back(page), "therapist": therapist.pk, "date": day.isoformat(), "kind": "time_off",
    })

    assert response.status_code == 302, response.context and response.context["adminform"].form.errors
    visit.refresh_from_db()
    assert (visit.status, visit.therapist_id) == (m.VisitStatus.REQUESTED, None)
    assert visit.status_reason == "Unbooked: Amara Okafor is no longer working then; the visit is open to plan again."
