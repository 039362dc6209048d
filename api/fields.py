"""Serializer fields that look objects up in what the user may see."""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from django.db.models import Model, QuerySet
from rest_framework import serializers
from rest_framework.exceptions import NotFound

NOT_FOUND = "{model} {pk} was not found."


class ScopedPrimaryKeyRelatedField(serializers.PrimaryKeyRelatedField):
    """A primary key resolved in the user's scoped queryset; one outside it is 404, as a URL to it would be."""

    def __init__(self, *, scope: Callable[..., QuerySet], model: type[Model], **kwargs) -> None:
        self.scope = scope
        # The model's empty queryset only tells the schema what the key points to.
        super().__init__(queryset=model.objects.none(), **kwargs)

    def get_queryset(self) -> QuerySet:
        return self.scope(self.context["request"].user)

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int | str):
            self.fail("incorrect_type", data_type=type(data).__name__)
        queryset = self.get_queryset()
        try:
            return queryset.get(pk=data)
        except queryset.model.DoesNotExist as exc:
            raise NotFound(NOT_FOUND.format(model=queryset.model._meta.verbose_name.capitalize(), pk=data)) from exc
        except (TypeError, ValueError):
            self.fail("incorrect_type", data_type=type(data).__name__)
        except OverflowError as exc:  # beyond 64 bits (SQLite's driver): no object has that id
            raise NotFound(NOT_FOUND.format(model=queryset.model._meta.verbose_name.capitalize(), pk=data)) from exc


# Plans, visits and schedules live in this century: a year like 1870 is a typo, and its time
# zone offsets (local mean time, with seconds) cannot even be written in RFC 3339.
EARLIEST_DAY = dt.date(2000, 1, 1)
LATEST_DAY = dt.date(2099, 12, 31)
OUT_OF_RANGE = f"Give a date between {EARLIEST_DAY} and {LATEST_DAY}."


class PlanningDateField(serializers.DateField):
    def to_internal_value(self, value):
        day = super().to_internal_value(value)
        if not EARLIEST_DAY <= day <= LATEST_DAY:
            raise serializers.ValidationError(OUT_OF_RANGE)
        return day


class PlanningDateTimeField(serializers.DateTimeField):
    def to_internal_value(self, value):
        moment = super().to_internal_value(value)
        if not EARLIEST_DAY <= moment.date() <= LATEST_DAY:
            raise serializers.ValidationError(OUT_OF_RANGE)
        return moment
