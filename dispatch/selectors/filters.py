"""FilterSets the list selectors apply to the scoped querysets."""
from __future__ import annotations

import datetime as dt

import django_filters
from django import forms
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

# Primary keys are 64-bit: a larger number in a filter is a 400 naming it, not an overflow in the database.
MAX_ID = 2**63 - 1


# Plans, visits and schedules live in this century: a year like 1870 is a typo, and its time
# zone offsets (local mean time, with seconds) cannot even be written in RFC 3339.
EARLIEST_DAY = dt.date(2000, 1, 1)
LATEST_DAY = dt.date(2099, 12, 31)
OUT_OF_RANGE = f"Give a date between {EARLIEST_DAY} and {LATEST_DAY}."


class PlanningDateFormField(forms.DateField):
    def clean(self, value):
        day = super().clean(value)
        if day is not None and not EARLIEST_DAY <= day <= LATEST_DAY:
            raise forms.ValidationError(OUT_OF_RANGE, code="out_of_range")
        return day


class DateFilter(django_filters.DateFilter):
    """A day in the planning range, as the write side and /schedule take (9999-12-31 is a typo, not a query)."""

    field_class = PlanningDateFormField


class IdField(forms.IntegerField):
    def __init__(self, **kwargs) -> None:
        super().__init__(min_value=1, max_value=MAX_ID, **kwargs)


class IdFilter(django_filters.NumberFilter):
    """An id to filter by. Only the id is compared (no lookup of the object), so an id of another
    organisation's object reads like one that does not exist: an empty list."""

    field_class = IdField


NOT_A_BOOLEAN = "Use true or false."


class StrictBooleanField(forms.NullBooleanField):
    """true/false (or 1/0); anything else is an error. django-filter's own maps "maybe" to no filter at all."""

    widget = forms.TextInput
    TRUE, FALSE = {"true", "1"}, {"false", "0"}

    def to_python(self, value):
        if value in (None, ""):
            return None
        text = str(value).lower()
        if text in self.TRUE:
            return True
        if text in self.FALSE:
            return False
        raise forms.ValidationError(NOT_A_BOOLEAN, code="invalid")


class BooleanFilter(django_filters.BooleanFilter):
    field_class = StrictBooleanField


class VisitFilter(django_filters.FilterSet):
    date = DateFilter()
    date_from = DateFilter(field_name="date", lookup_expr="gte")
    date_to = DateFilter(field_name="date", lookup_expr="lte")
    status = django_filters.MultipleChoiceFilter(choices=VisitStatus.choices)
    priority = django_filters.MultipleChoiceFilter(choices=Priority.choices)
    therapist = IdFilter()
    facility = IdFilter()
    patient = IdFilter()

    class Meta:
        model = Visit
        fields = ["date", "date_from", "date_to", "status", "priority", "therapist", "facility", "patient"]


class PatientFilter(django_filters.FilterSet):
    facility = IdFilter()
    home = BooleanFilter(field_name="facility", lookup_expr="isnull", help_text="Seen at home.")
    name = django_filters.CharFilter(
        method="filter_name",
        help_text="Part of the first or last name; for therapists, of the first name, or the last initial.",
    )
    active = BooleanFilter()

    class Meta:
        model = Patient
        fields = ["facility", "home", "name", "active"]

    def filter_name(self, queryset: QuerySet[Patient], name: str, value: str) -> QuerySet[Patient]:
        return queryset.filter(Q(first_name__icontains=value) | Q(last_name__icontains=value))


class PatientForTherapistFilter(PatientFilter):
    """A therapist is shown the first name and the last initial only, so the name filter matches only those.

    Matching the full last name would let a therapist find out a surname letter by letter.
    """

    name = django_filters.CharFilter(
        method="filter_name", help_text="Part of the first name, or the last initial (\"Theodore B.\")."
    )

    def filter_name(self, queryset: QuerySet[Patient], name: str, value: str) -> QuerySet[Patient]:
        # Each word must be part of the first name or, when it is one letter (with or without a dot), the
        # last initial: "Theodore B." finds Theodore Brown, "Brown" and "Br" find nothing by his surname.
        for word in value.split():
            match = Q(first_name__icontains=word)
            letter = word.rstrip(".")
            if len(letter) == 1:
                match |= Q(last_name__istartswith=letter)
            queryset = queryset.filter(match)
        return queryset


class TherapistFilter(django_filters.FilterSet):
    skill = django_filters.CharFilter(field_name="skills__code", distinct=True, help_text="A skill code.")
    active = BooleanFilter()

    class Meta:
        model = Therapist
        fields = ["skill", "active"]


class WeeklyAvailabilityFilter(django_filters.FilterSet):
    therapist = IdFilter()

    class Meta:
        model = WeeklyAvailability
        fields = ["therapist", "weekday"]


class AvailabilityExceptionFilter(django_filters.FilterSet):
    therapist = IdFilter()
    date_from = DateFilter(field_name="date", lookup_expr="gte")
    date_to = DateFilter(field_name="date", lookup_expr="lte")

    class Meta:
        model = AvailabilityException
        fields = ["therapist", "date", "date_from", "date_to", "kind"]


class TherapistBreakFilter(django_filters.FilterSet):
    therapist = IdFilter()

    class Meta:
        model = TherapistBreak
        fields = ["therapist"]
