"""List reads: a role's scoped queryset, narrowed by the request's filters."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import django_filters
from django.core.exceptions import ValidationError
from django.db.models import Prefetch, QuerySet
from django.db.models.functions import Substr, Upper

from dispatch.models import Role, TherapistCredential
from dispatch.selectors import filters, scoping

if TYPE_CHECKING:
    from collections.abc import Mapping

    from dispatch.models import User


def filtered(
    *, filterset_class: type[django_filters.FilterSet], queryset: QuerySet, params: Mapping[str, Any]
) -> QuerySet:
    filterset = filterset_class(params, queryset)
    if not filterset.is_valid():
        raise ValidationError(filterset.errors)
    return filterset.qs


def visits_shown(*, user: User) -> QuerySet:
    """The visits user may see, with what their body reads: one visit's read (a GET, the body a write answers
    with) takes this as it is: a filter set with nothing to filter is still built and validated (0.7 ms)."""
    return (
        scoping.visits_visible_to(user)
        .select_related("patient", "facility", "organization")
        .prefetch_related("windows", "required_skills", "patient__contraindications")
    )


def visit_list(*, user: User, params: Mapping[str, Any]) -> QuerySet:
    return filtered(filterset_class=filters.VisitFilter, queryset=visits_shown(user=user), params=params)


def patient_list(*, user: User, params: Mapping[str, Any]) -> QuerySet:
    patients = scoping.patients_visible_to(user).select_related("facility", "organization").prefetch_related(
        "contraindications", "precautions", "preferred_therapists", "excluded_therapists"
    )
    if user.role == Role.THERAPIST:
        # Ordered by what a therapist sees: the model's order by full last name would hint at surnames too.
        patients = patients.order_by(Upper(Substr("last_name", 1, 1)), "first_name", "pk")
        return filtered(filterset_class=filters.PatientForTherapistFilter, queryset=patients, params=params)
    return filtered(filterset_class=filters.PatientFilter, queryset=patients, params=params)


def therapist_list(*, user: User, params: Mapping[str, Any]) -> QuerySet:
    therapists = scoping.therapists_visible_to(user).select_related("user").prefetch_related(
        "skills", Prefetch("credentials", queryset=TherapistCredential.objects.select_related("credential_type"))
    )
    return filtered(filterset_class=filters.TherapistFilter, queryset=therapists, params=params)


def facility_list(*, user: User) -> QuerySet:
    return scoping.facilities_visible_to(user).prefetch_related("required_credentials")


def weekly_availability_list(*, user: User, params: Mapping[str, Any]) -> QuerySet:
    return filtered(
        filterset_class=filters.WeeklyAvailabilityFilter,
        queryset=scoping.weekly_availability_visible_to(user),
        params=params,
    )


def availability_exception_list(*, user: User, params: Mapping[str, Any]) -> QuerySet:
    return filtered(
        filterset_class=filters.AvailabilityExceptionFilter,
        queryset=scoping.availability_exceptions_visible_to(user),
        params=params,
    )


def break_list(*, user: User, params: Mapping[str, Any]) -> QuerySet:
    return filtered(
        filterset_class=filters.TherapistBreakFilter, queryset=scoping.breaks_visible_to(user), params=params
    )
