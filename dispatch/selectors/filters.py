"""FilterSets the list selectors apply to the scoped querysets."""
from __future__ import annotations

import django_filters
from django.db.models import Q, QuerySet

from dispatch.models import (
    AvailabilityException,
    Patient,
    Priority,
    Therapist,
    TherapistBreak,
    Visit,
    VisitStatus,
    WeeklyAvailability,
)


class VisitFilter(django_filters.FilterSet):
    date = django_filters.DateFilter()
    date_from = django_filters.DateFilter(field_name="date", lookup_expr="gte")
    date_to = django_filters.DateFilter(field_name="date", lookup_expr="lte")
    status = django_filters.MultipleChoiceFilter(choices=VisitStatus.choices)
    priority = django_filters.MultipleChoiceFilter(choices=Priority.choices)
    therapist = django_filters.NumberFilter()
    facility = django_filters.NumberFilter()
    patient = django_filters.NumberFilter()

    class Meta:
        model = Visit
        fields = ["date", "date_from", "date_to", "status", "priority", "therapist", "facility", "patient"]


class PatientFilter(django_filters.FilterSet):
    facility = django_filters.NumberFilter()
    home = django_filters.BooleanFilter(field_name="facility", lookup_expr="isnull", help_text="Seen at home.")
    name = django_filters.CharFilter(method="filter_name", help_text="Part of the first or last name.")
    active = django_filters.BooleanFilter()

    class Meta:
        model = Patient
        fields = ["facility", "home", "name", "active"]

    def filter_name(self, queryset: QuerySet[Patient], name: str, value: str) -> QuerySet[Patient]:
        return queryset.filter(Q(first_name__icontains=value) | Q(last_name__icontains=value))


class TherapistFilter(django_filters.FilterSet):
    skill = django_filters.CharFilter(field_name="skills__code", distinct=True, help_text="A skill code.")
    active = django_filters.BooleanFilter()

    class Meta:
        model = Therapist
        fields = ["skill", "active"]


class WeeklyAvailabilityFilter(django_filters.FilterSet):
    class Meta:
        model = WeeklyAvailability
        fields = ["therapist", "weekday"]


class AvailabilityExceptionFilter(django_filters.FilterSet):
    date_from = django_filters.DateFilter(field_name="date", lookup_expr="gte")
    date_to = django_filters.DateFilter(field_name="date", lookup_expr="lte")

    class Meta:
        model = AvailabilityException
        fields = ["therapist", "date", "date_from", "date_to", "kind"]


class TherapistBreakFilter(django_filters.FilterSet):
    class Meta:
        model = TherapistBreak
        fields = ["therapist"]
