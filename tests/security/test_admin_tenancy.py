"""The admin, attacked by a coordinator of organisation A who holds every ``dispatch`` permission.

The URLs are read from every registered ModelAdmin (changelist, add, change, history, history form,
delete, password ...), so an admin added later joins the walk. Organisation B owns one object of every
registered model; A's coordinator tries each URL that names it, with GET and POST: every answer is
302/403/404, and no row of any model changes.
"""
from __future__ import annotations

import datetime as dt

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.forms import ModelChoiceField
from django.urls import reverse

from dispatch import models as m
from tests import factories as f

REFUSED = {302, 403, 404}
SHARED_MODELS = {m.Skill}  # one list for every organisation; its own test below


def objects_of(org: m.Organization) -> dict[type, object]:
    """One object of every registered model, all in ``org``, each with a history row where audited."""
    facility = f.FacilityFactory(organization=org, name=f"Facility of {org.slug}")
    therapist = f.TherapistFactory(organization=org)
    patient = f.PatientFactory(organization=org, facility=facility, last_name=f"Patient-of-{org.slug}")
    visit = f.VisitFactory(organization=org, patient=patient)
    credential = f.CredentialTypeFactory(organization=org)
    return {
        m.Organization: org,
        m.User: f.UserFactory(organization=org),
        m.CredentialType: credential,
        m.Facility: facility,
        m.Therapist: therapist,
        m.AvailabilityException: m.AvailabilityException.objects.create(
            therapist=therapist, date=f.tomorrow(), kind=m.ExceptionKind.TIME_OFF
        ),
        m.Patient: patient,
        m.Contraindication: m.Contraindication.objects.create(
            patient=patient, kind=m.ContraindicationKind.FEVER, note="Of B only", active_from=f.tomorrow()
        ),
        m.Precaution: m.Precaution.objects.create(patient=patient, kind=m.PrecautionKind.DEVICE, note="Of B only"),
        m.Visit: visit,
        m.VisitSeries: m.VisitSeries.objects.create(
            organization=org, patient=patient, weekdays=[0], window_start=dt.time(9), window_end=dt.time(12),
            duration_min=30, starts_on=f.tomorrow(), ends_on=f.tomorrow(),
        ),
        m.PlanRun: m.PlanRun.objects.create(organization=org, date=f.tomorrow()),
    }


def snapshot() -> dict[str, list[dict]]:
    models = [*apps.get_app_config("dispatch").get_models(), *apps.get_app_config("auth").get_models()]
    return {mod.__name__: list(mod._default_manager.order_by("pk").values()) for mod in models}


def admin_urls_for(obj) -> list[tuple[str, str]]:
    """(name, url) for every named admin URL of the object's ModelAdmin, filled with the object's ids."""
    model_admin = admin.site._registry[type(obj)]
    version = obj.history.order_by("-history_id").first() if hasattr(obj, "history") else None
    values = {"object_id": obj.pk, "id": obj.pk, "version_id": version.history_id if version else 1}
    urls = []
    for pattern in model_admin.get_urls():
        if not pattern.name:
            continue
        names = list(pattern.pattern.converters) or list(pattern.pattern.regex.groupindex)
        if names:
            url = reverse(f"admin:{pattern.name}", kwargs={key: values[key] for key in names})
        else:  # simple_history's history-form URL: (object id, version id) as positional groups
            url = reverse(f"admin:{pattern.name}", args=[obj.pk, values["version_id"]][: pattern.pattern.regex.groups])
        urls.append((pattern.name, url))
    return urls


@pytest.fixture
def coordinator_a(db):
    org = f.OrganizationFactory(slug="org-a")
    user = f.UserFactory(organization=org, is_staff=True)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="dispatch"))
    return user


@pytest.fixture
def admin_a(client, coordinator_a):
    client.force_login(coordinator_a)
    return client


@pytest.fixture
def theirs(db) -> dict[type, object]:
    return objects_of(f.OrganizationFactory(slug="org-b"))


def test_the_walk_covers_every_registered_dispatch_model(theirs):
    registered = {model for model in admin.site._registry if model._meta.app_label == "dispatch"}
    assert registered - SHARED_MODELS == set(theirs)


def _cases():
    registered = admin.site._registry
    return [model for model in registered if model._meta.app_label == "dispatch" and model not in SHARED_MODELS]


@pytest.mark.parametrize("model", _cases(), ids=lambda model: model.__name__)
def test_no_admin_url_of_another_organisations_object_answers_or_changes_anything(admin_a, theirs, model):
    obj = theirs[model]
    before = snapshot()
    tried = []
    for name, url in admin_urls_for(obj):
        if name.endswith(("_changelist", "_add")):
            continue  # they name no object; tested below
        for method in ("get", "post"):
            data = {"post": "yes", "_change_history": "1", "organization": obj.pk if model is m.Organization else ""}
            response = getattr(admin_a, method)(url, data if method == "post" else None)
            tried.append((method, name, response.status_code))
            assert response.status_code in REFUSED, (method, url, response.status_code)
            if response.status_code == 302:
                assert "/login/" in response["Location"] or "/admin/" == response["Location"], response["Location"]
    assert snapshot() == before
    assert {name.rsplit("_", 1)[-1] for _, name, _ in tried} >= {"change", "delete", "history"}


@pytest.mark.parametrize("model", _cases(), ids=lambda model: model.__name__)
def test_changelists_and_add_forms_offer_nothing_of_another_organisation(admin_a, theirs, model):
    their_ids = {type(o): o.pk for o in theirs.values()}
    changelist = admin_a.get(reverse(f"admin:dispatch_{model._meta.model_name}_changelist"))
    if model in (m.User, m.Organization):
        assert changelist.status_code == 403
        assert admin_a.get(reverse(f"admin:dispatch_{model._meta.model_name}_add")).status_code == 403
        return
    assert changelist.status_code == 200
    assert their_ids[model] not in {o.pk for o in changelist.context["cl"].result_list}
    assert "org-b" not in changelist.content.decode() and "Comfort Care" not in str(
        [f for f in changelist.context["cl"].filter_specs]
    )
    add = admin_a.get(reverse(f"admin:dispatch_{model._meta.model_name}_add"))
    assert add.status_code == 200
    inline_forms = (form for formset in add.context["inline_admin_formsets"] for form in formset.formset)
    forms = [add.context["adminform"].form, *inline_forms]
    for form in forms:
        for name, field in form.fields.items():
            if isinstance(field, ModelChoiceField) and field.queryset.model in their_ids:
                offered = set(field.queryset.values_list("pk", flat=True))
                assert their_ids[field.queryset.model] not in offered, (model.__name__, name)


def test_a_facility_posted_with_another_organisation_is_created_in_the_coordinators_own(admin_a, coordinator_a, theirs):
    other = theirs[m.Organization]
    response = admin_a.post(
        reverse("admin:dispatch_facility_add"),
        {"name": "Sneaky Hospital", "kind": "hospital", "address": "1 Main St", "lat": "43.65", "lon": "-79.38",
         "organization": other.pk, "checkin_overhead_min": "10"},
    )
    assert response.status_code == 302
    created = m.Facility.objects.get(name="Sneaky Hospital")
    assert created.organization_id == coordinator_a.organization_id
    assert not other.facilities.filter(name="Sneaky Hospital").exists()


@pytest.mark.parametrize(
    "url_name, field, kind",
    [
        ("admin:dispatch_patient_add", "facility", m.Facility),
        ("admin:dispatch_patient_add", "preferred_therapists", m.Therapist),
        ("admin:dispatch_contraindication_add", "patient", m.Patient),
        ("admin:dispatch_therapist_add", "user", m.User),
        ("admin:dispatch_visit_add", "patient", m.Patient),
        ("admin:dispatch_visit_add", "therapist", m.Therapist),
        ("admin:dispatch_facility_add", "required_credentials", m.CredentialType),
    ],
)
def test_a_foreign_id_posted_by_hand_is_refused_by_the_form(admin_a, theirs, url_name, field, kind):
    before = snapshot()
    response = admin_a.post(reverse(url_name), {field: theirs[kind].pk})
    assert response.status_code == 200  # the form again, with its errors
    errors = response.context["adminform"].form.errors
    assert field in errors and "available choices" in str(errors[field])
    assert snapshot() == before


def test_the_history_of_another_organisations_patient_is_a_404_and_revert_writes_nothing(admin_a, theirs):
    patient = theirs[m.Patient]
    patient.diagnosis = "Changed once so that there are two versions"
    patient.save()
    first = patient.history.order_by("history_id").first()
    url = reverse("admin:dispatch_patient_simple_history", args=[patient.pk, first.history_id])
    assert admin_a.get(reverse("admin:dispatch_patient_history", args=[patient.pk])).status_code == 404
    assert admin_a.get(url).status_code == 404
    revert = {"first_name": "Owned", "last_name": "Owned", "organization": patient.organization_id}
    assert admin_a.post(url, revert).status_code == 404
    patient.refresh_from_db()
    assert patient.first_name != "Owned"


def test_a_superuser_still_reaches_every_organisation(client, theirs):
    client.force_login(f.UserFactory(organization=None, is_staff=True, is_superuser=True))
    patient = theirs[m.Patient]
    assert client.get(reverse("admin:dispatch_patient_history", args=[patient.pk])).status_code == 200
    assert client.get(reverse("admin:dispatch_user_changelist")).status_code == 200
    change = client.get(reverse("admin:dispatch_user_change", args=[theirs[m.User].pk]))
    assert {"is_superuser", "organization", "groups"} <= set(change.context["adminform"].form.fields)


def test_a_coordinator_cannot_make_anyone_a_superuser_or_move_them(admin_a, coordinator_a):
    colleague = f.UserFactory(organization=coordinator_a.organization)
    other = f.OrganizationFactory()
    url = reverse("admin:dispatch_user_change", args=[colleague.pk])
    assert admin_a.get(url).status_code == 403
    response = admin_a.post(url, {"username": colleague.username, "organization": other.pk, "is_superuser": "on",
                                  "is_staff": "on", "role": "coordinator"})
    assert response.status_code == 403
    colleague.refresh_from_db()
    assert (colleague.organization_id, colleague.is_superuser, colleague.is_staff) == (
        coordinator_a.organization_id, False, False
    )
    own = reverse("admin:dispatch_user_change", args=[coordinator_a.pk])
    assert admin_a.post(own, {"username": coordinator_a.username, "is_superuser": "on"}).status_code == 403
    coordinator_a.refresh_from_db()
    assert not coordinator_a.is_superuser


def test_shared_skills_are_read_only_to_a_coordinator(admin_a):
    skill = m.Skill.objects.create(code="lymphedema-x", name="Lymphedema")
    change = reverse("admin:dispatch_skill_change", args=[skill.pk])
    assert admin_a.get(reverse("admin:dispatch_skill_changelist")).status_code == 200
    assert admin_a.post(change, {"code": "renamed", "name": "Renamed"}).status_code == 403
    assert admin_a.post(reverse("admin:dispatch_skill_delete", args=[skill.pk]), {"post": "yes"}).status_code == 403
    assert admin_a.post(reverse("admin:dispatch_skill_add"), {"code": "new", "name": "New"}).status_code == 403
    skill.refresh_from_db()
    assert (skill.code, skill.name) == ("lymphedema-x", "Lymphedema")
    assert not m.Skill.objects.filter(code="new").exists()
