"""The admin for coordinators: every record, searchable; audited models show their history."""
from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from simple_history.admin import SimpleHistoryAdmin

from dispatch import models as m


class OrganizationScoped:
    """A coordinator with admin access sees their own organisation's rows; a superuser sees all."""

    organization_path = "organization"

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(**{self.organization_path: request.user.organization_id})


def tabular(model: type) -> type[admin.TabularInline]:
    return type(f"{model.__name__}Inline", (admin.TabularInline,), {"model": model, "extra": 0})


@admin.register(m.Organization)
class OrganizationAdmin(OrganizationScoped, admin.ModelAdmin):
    organization_path = "pk"
    list_display = ["name", "slug", "timezone"]
    search_fields = ["name", "slug"]


@admin.register(m.User)
class RoundsUserAdmin(OrganizationScoped, UserAdmin):
    list_display = ["username", "email", "role", "organization", "facility", "is_active"]
    list_filter = ["role", "organization", "is_active"]
    fieldsets = [*UserAdmin.fieldsets, ("Rounds", {"fields": ["organization", "role", "facility"]})]


@admin.register(m.Skill)
class SkillAdmin(admin.ModelAdmin):
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


@admin.register(m.Therapist)
class TherapistAdmin(OrganizationScoped, admin.ModelAdmin):
    list_display = ["display_name", "organization", "gender", "speed_profile", "max_visits_per_day", "active"]
    list_filter = ["active", "organization", "speed_profile", "skills"]
    search_fields = ["display_name", "user__username", "home_address"]
    filter_horizontal = ["skills"]
    inlines = [tabular(m.TherapistCredential), tabular(m.WeeklyAvailability), tabular(m.TherapistBreak)]


@admin.register(m.AvailabilityException)
class AvailabilityExceptionAdmin(OrganizationScoped, admin.ModelAdmin):
    organization_path = "therapist__organization"
    list_display = ["therapist", "date", "kind", "start_time", "end_time", "note"]
    list_filter = ["kind"]
    search_fields = ["therapist__display_name", "note"]
    date_hierarchy = "date"


@admin.register(m.Patient)
class PatientAdmin(OrganizationScoped, SimpleHistoryAdmin):
    list_display = ["last_name", "first_name", "facility", "room", "bed", "referral_expires", "active"]
    list_filter = ["active", "organization", "facility"]
    search_fields = ["first_name", "last_name", "address", "room"]
    filter_horizontal = ["preferred_therapists", "excluded_therapists"]
    inlines = [tabular(m.Contraindication), tabular(m.Precaution)]


@admin.register(m.Contraindication)
class ContraindicationAdmin(OrganizationScoped, SimpleHistoryAdmin):
    organization_path = "patient__organization"
    list_display = ["patient", "kind", "active_from", "active_until"]
    list_filter = ["kind"]
    search_fields = ["patient__first_name", "patient__last_name", "note"]


@admin.register(m.Precaution)
class PrecautionAdmin(OrganizationScoped, SimpleHistoryAdmin):
    organization_path = "patient__organization"
    list_display = ["patient", "kind", "body_site"]
    list_filter = ["kind"]
    search_fields = ["patient__first_name", "patient__last_name", "body_site", "note"]


@admin.register(m.Visit)
class VisitAdmin(OrganizationScoped, SimpleHistoryAdmin):
    list_display = ["id", "date", "patient", "status", "therapist", "planned_start", "priority", "pinned"]
    list_filter = ["status", "priority", "pinned", "organization", "facility"]
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
