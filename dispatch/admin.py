"""The admin for coordinators: their own organisation's records, searchable; audited models show their history.

A coordinator with admin access (``is_staff`` and the ``dispatch`` permissions) reaches only their
organisation, everywhere the admin looks an object up: lists, filters, change and delete pages, the
history and history-form (revert) pages, and every choice a form offers. An id of another
organisation's object in a URL is a 404; in a form it is "not one of the available choices".
Users, organisations and the skills all organisations share are for superusers.
"""
from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.contrib.auth.admin import UserAdmin
from django.db import transaction
from django.db.models import Model, QuerySet
from django.http import Http404
from simple_history.admin import SimpleHistoryAdmin

from dispatch import models as m

# How each model reaches its organisation. A relation to a model that is neither here nor shared offers
# no choice at all to a coordinator, so a model added later is closed until it is listed.
ORGANIZATION_PATHS: dict[type[Model], str] = {
    m.Organization: "pk",
    m.User: "organization",
    m.CredentialType: "organization",
    m.Facility: "organization",
    m.Therapist: "organization",
    m.Patient: "organization",
    m.Visit: "organization",
    m.VisitSeries: "organization",
    m.PlanRun: "organization",
    m.AvailabilityException: "therapist__organization",
    m.TherapistCredential: "therapist__organization",
    m.WeeklyAvailability: "therapist__organization",
    m.TherapistBreak: "therapist__organization",
    m.Contraindication: "patient__organization",
    m.Precaution: "patient__organization",
    m.VisitWindow: "visit__organization",
}
SHARED_MODELS = frozenset({m.Skill})


def scoped_to(model: type[Model], request) -> QuerySet:
    queryset = model._default_manager.all()
    if request.user.is_superuser or model in SHARED_MODELS:
        return queryset
    path = ORGANIZATION_PATHS.get(model)
    return queryset.filter(**{path: request.user.organization_id}) if path else queryset.none()


class ScopedChoices:
    """Every foreign-key and many-to-many choice limited to the user's organisation (shared skills aside).

    The form field's queryset is also what its ``clean`` checks a posted id against, so a foreign id is
    refused even when it is typed into a raw-id box or posted by hand.
    """

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        kwargs["queryset"] = scoped_to(db_field.related_model, request)
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if db_field.related_model is m.Organization and not request.user.is_superuser and field is not None:
            # Set for the coordinator, never chosen: their own organisation is the only value it takes.
            field.disabled = True
            field.initial = request.user.organization_id
        return field

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        kwargs["queryset"] = scoped_to(db_field.related_model, request)
        return super().formfield_for_manytomany(db_field, request, **kwargs)


class OrganizationScoped(ScopedChoices):
    """A coordinator with admin access sees their own organisation's rows; a superuser sees all."""

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(**{ORGANIZATION_PATHS[self.model]: request.user.organization_id})

    def get_list_filter(self, request):
        filters = super().get_list_filter(request)
        if request.user.is_superuser:
            return filters
        # Another organisation's name is not a coordinator's to read, not even as a filter choice.
        return [f for f in filters if f != "organization"]

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        if not request.user.is_superuser and "organization" in {f.name for f in self.model._meta.fields}:
            initial["organization"] = request.user.organization_id
        return initial

    def _refuse_if_not_ours(self, request, object_id) -> None:
        # simple_history looks the object up without get_queryset (and falls back to its last historical
        # version), so it would show and revert another organisation's records.
        if not request.user.is_superuser and not self.get_queryset(request).filter(pk=unquote(object_id)).exists():
            raise Http404

    def history_view(self, request, object_id, extra_context=None):
        self._refuse_if_not_ours(request, object_id)
        return super().history_view(request, object_id, extra_context=extra_context)

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        self._refuse_if_not_ours(request, object_id)
        return super().history_form_view(request, object_id, version_id, extra_context=extra_context)


class SuperusersChange:
    """Only superusers add, change or delete; who else may read is up to the view permission."""

    def has_add_permission(self, request) -> bool:
        return request.user.is_superuser

    def has_change_permission(self, request, obj=None) -> bool:
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None) -> bool:
        return request.user.is_superuser


class SuperuserOnly(SuperusersChange):
    """Who may use the admin, and which organisation they belong to, is decided by superusers."""

    def has_module_permission(self, request) -> bool:
        return request.user.is_superuser

    def has_view_permission(self, request, obj=None) -> bool:
        return request.user.is_superuser


class ScopedInline(ScopedChoices, admin.TabularInline):
    extra = 0


def tabular(model: type) -> type[admin.TabularInline]:
    return type(f"{model.__name__}Inline", (ScopedInline,), {"model": model})


RELATED_ONLY = admin.RelatedOnlyFieldListFilter


@admin.register(m.Organization)
class OrganizationAdmin(SuperuserOnly, admin.ModelAdmin):
    list_display = ["name", "slug", "timezone"]
    search_fields = ["name", "slug"]


@admin.register(m.User)
class RoundsUserAdmin(SuperuserOnly, UserAdmin):
    list_display = ["username", "email", "role", "organization", "facility", "is_active"]
    list_filter = ["role", "organization", "is_active"]
    fieldsets = [*UserAdmin.fieldsets, ("Rounds", {"fields": ["organization", "role", "facility"]})]


@admin.register(m.Skill)
class SkillAdmin(SuperusersChange, admin.ModelAdmin):
    """Skills are shared by every organisation: coordinators read them, superusers change them."""

    list_display = ["code", "name"]
    search_fields = ["code", "name"]


@admin.register(m.CredentialType)
class CredentialTypeAdmin(OrganizationScoped, admin.ModelAdmin):
    list_display = ["code", "name", "organization"]
    list_filter = ["organization"]
    search_fields = ["code", "name"]


@admin.register(m.Facility)
class FacilityAdmin(OrganizationScoped, admin.ModelAdmin):
    list_display = ["name", "kind", "organization", "visiting_hours_start", "visiting_hours_end", "default_buffer_min"]
    list_filter = ["kind", "organization"]
    search_fields = ["name", "address"]
    filter_horizontal = ["required_credentials"]

    def save_related(self, request, form, formsets, change):
        # As the API's facility_save (one transaction with the admin's save): narrower visiting hours, a credential
        # newly required, unbook the visits booked on what they now rule out.
        from dispatch.services.records import visits_unbook_outside_hours, visits_unbook_unqualified

        super().save_related(request, form, formsets, change)
        if change and {"visiting_hours_start", "visiting_hours_end"} & set(form.changed_data):
            visits_unbook_outside_hours(facility=form.instance)
        if change and "required_credentials" in form.changed_data:
            visits_unbook_unqualified(visits=m.Visit.objects.filter(facility=form.instance))


def not_during_a_session(form: type, *, visits_of: str, message: str) -> type:
    """The admin form, refusing to switch ``active`` off while the record's visit is under way: as the API (a 409
    there), said on the field here rather than a 500 from the save."""

    class Checked(form):
        def clean(self):
            data = super().clean()
            if self.instance.pk and self.instance.active and data.get("active") is False:
                busy = m.Visit.objects.filter(**{visits_of: self.instance}, status=m.VisitStatus.IN_PROGRESS).first()
                if busy is not None:
                    self.add_error("active", message.format(visit=busy.pk))
            return data

    return Checked


@admin.register(m.Therapist)
class TherapistAdmin(OrganizationScoped, admin.ModelAdmin):
    list_display = ["display_name", "organization", "gender", "speed_profile", "max_visits_per_day", "active"]
    list_filter = ["active", "organization", "speed_profile", "skills"]
    search_fields = ["display_name", "user__username", "home_address"]
    filter_horizontal = ["skills"]
    inlines = [tabular(m.TherapistCredential), tabular(m.WeeklyAvailability), tabular(m.TherapistBreak)]

    def get_form(self, request, obj=None, **kwargs):
        return not_during_a_session(
            super().get_form(request, obj, **kwargs), visits_of="therapist",
            message="In visit {visit} now; switch off once they have checked out.",
        )

    def save_model(self, request, obj, form, change):
        from dispatch.services.records import therapist_unbook_upcoming

        super().save_model(request, obj, form, change)
        if change and "active" in form.changed_data and not obj.active:
            therapist_unbook_upcoming(therapist=obj)  # the admin's save is one transaction with it

    def save_related(self, request, form, formsets, change):
        # The inlines and skills, as through the API: weekly hours taken away, a skill or credential gone, unbook
        # the visits booked on them (the admin's save is one transaction with it).
        from dispatch.notifications.changes import change_set
        from dispatch.services.availability import unbooking_what_no_longer_fits
        from dispatch.services.records import visits_unbook_unqualified

        with change_set(), unbooking_what_no_longer_fits(therapist_ids={form.instance.pk}, by=request.user):
            super().save_related(request, form, formsets, change)
            if change:
                visits_unbook_unqualified(visits=m.Visit.objects.filter(therapist=form.instance))


@admin.register(m.AvailabilityException)
class AvailabilityExceptionAdmin(OrganizationScoped, admin.ModelAdmin):
    list_display = ["therapist", "date", "kind", "start_time", "end_time", "note"]
    list_filter = ["kind"]
    search_fields = ["therapist__display_name", "note"]
    date_hierarchy = "date"

    # As through the API: hours taken away unbook the visits booked in them (the admin's save is one transaction).
    def save_model(self, request, obj, form, change):
        from dispatch.services.availability import availability_save

        availability_save(instance=obj, fields={}, by=request.user)

    def delete_model(self, request, obj):
        from dispatch.services.availability import availability_delete

        availability_delete(instance=obj, by=request.user)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.delete_model(request, obj)


@admin.register(m.Patient)
class PatientAdmin(OrganizationScoped, SimpleHistoryAdmin):
    list_display = ["last_name", "first_name", "facility", "room", "bed", "referral_expires", "active"]
    list_filter = ["active", "organization", ("facility", RELATED_ONLY)]
    search_fields = ["first_name", "last_name", "address", "room"]
    filter_horizontal = ["preferred_therapists", "excluded_therapists"]
    inlines = [tabular(m.Contraindication), tabular(m.Precaution)]

    def get_form(self, request, obj=None, **kwargs):
        return not_during_a_session(
            super().get_form(request, obj, **kwargs), visits_of="patient",
            message="In visit {visit} now; close the record once it has ended.",
        )

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        if change:
            _patient_changed(request, form.instance, closed="active" in form.changed_data and not form.instance.active)

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        # A revert saves the form and the patient but never calls save_related: the same follow-up, in one
        # transaction with the revert (a revert to fewer units or an older referral unbooks what they no longer cover).
        with transaction.atomic():
            before = m.Patient.objects.filter(pk=unquote(object_id)).values_list("active", flat=True).first()
            response = super().history_form_view(request, object_id, version_id, extra_context)
            if request.method == "POST" and response.status_code == 302:
                patient = m.Patient.objects.get(pk=unquote(object_id))
                _patient_changed(request, patient, closed=bool(before) and not patient.active)
        return response


def _patient_changed(request, patient: m.Patient, *, closed: bool) -> None:
    """As the API's patient_save (the admin's save is one transaction with it): a record closed cancels the visits
    to come; a therapist newly excluded, a gender, language, shorter referral or fewer units unbook what they break."""
    from dispatch.services.records import patient_unbook_unmet_needs, patient_visits_call_off

    if closed:
        patient_visits_call_off(patient=patient, by=request.user)
    patient_unbook_unmet_needs(patient=patient, by=request.user)


@admin.register(m.Contraindication)
class ContraindicationAdmin(OrganizationScoped, SimpleHistoryAdmin):
    list_display = ["patient", "kind", "active_from", "active_until"]
    list_filter = ["kind"]
    search_fields = ["patient__first_name", "patient__last_name", "note"]


@admin.register(m.Precaution)
class PrecautionAdmin(OrganizationScoped, SimpleHistoryAdmin):
    list_display = ["patient", "kind", "body_site"]
    list_filter = ["kind"]
    search_fields = ["patient__first_name", "patient__last_name", "body_site", "note"]


@admin.register(m.Visit)
class VisitAdmin(OrganizationScoped, SimpleHistoryAdmin):
    list_display = ["id", "date", "patient", "status", "therapist", "planned_start", "priority", "pinned"]
    list_filter = ["status", "priority", "pinned", "organization", ("facility", RELATED_ONLY)]
    search_fields = ["patient__first_name", "patient__last_name", "location_text", "therapist__display_name"]
    date_hierarchy = "date"
    raw_id_fields = ["patient", "therapist", "series", "requested_by"]
    filter_horizontal = ["required_skills"]
    inlines = [tabular(m.VisitWindow)]
    # Status moves only through the lifecycle service (the API's /transition), never by hand here.
    readonly_fields = ["status", "status_reason", "sequence", "actual_start", "actual_end"]


@admin.register(m.VisitSeries)
class VisitSeriesAdmin(OrganizationScoped, admin.ModelAdmin):
    list_display = ["id", "patient", "weekdays", "window_start", "window_end", "starts_on", "ends_on"]
    list_filter = ["organization"]
    raw_id_fields = ["patient", "created_by"]


@admin.register(m.PlanRun)
class PlanRunAdmin(OrganizationScoped, admin.ModelAdmin):
    list_display = ["id", "date", "kind", "status", "organization", "created_at", "applied_at"]
    list_filter = ["status", "kind", "organization"]
    readonly_fields = ["result", "progress", "input_sequences"]
