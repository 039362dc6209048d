from __future__ import annotations

import pytest
from django.urls import reverse

from tests.factories import PatientFactory, UserFactory, VisitFactory

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
