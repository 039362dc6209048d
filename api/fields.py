"""Serializer fields that look objects up in what the user may see."""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from django.core.validators import MaxLengthValidator
from django.db.models import Model, QuerySet
from django.utils.dateparse import parse_datetime
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.relations import MANY_RELATION_KWARGS

from dispatch.selectors.filters import EARLIEST_DAY, LATEST_DAY, OUT_OF_RANGE

NOT_FOUND = "{model} {pk} was not found."
TOO_MANY = "Ensure this field has no more than {limit} elements."
# Every list a client sends is bounded: each element costs a lookup now and work in every later read.
DEFAULT_MAX_ITEMS = 50


class BoundedManyRelatedField(serializers.ManyRelatedField):
    """``many=True`` of a related field, refused past ``max_length`` before any element is looked up."""

    def __init__(self, *, max_length: int, **kwargs) -> None:
        # The validator only documents maxItems in the schema; the length is checked first, below.
        super().__init__(validators=[MaxLengthValidator(max_length)], **kwargs)
        self.max_length = max_length

    def to_internal_value(self, data):
        if isinstance(data, list | tuple) and len(data) > self.max_length:
            raise serializers.ValidationError(TOO_MANY.format(limit=self.max_length))
        return super().to_internal_value(data)


class BoundedMany:
    """Related fields whose ``many=True`` form takes ``max_items`` (default DEFAULT_MAX_ITEMS)."""

    @classmethod
    def many_init(cls, *args, max_items: int = DEFAULT_MAX_ITEMS, **kwargs):
        list_kwargs = {key: value for key, value in kwargs.items() if key in MANY_RELATION_KWARGS}
        return BoundedManyRelatedField(child_relation=cls(*args, **kwargs), max_length=max_items, **list_kwargs)


class BoundedSlugRelatedField(BoundedMany, serializers.SlugRelatedField):
    pass


def bounded_list(child: serializers.Serializer, *, max_length: int = DEFAULT_MAX_ITEMS, **kwargs):
    """A nested serializer's list, with its maximum (DRF checks it; the validator puts it in the schema)."""
    return serializers.ListSerializer(
        child=child, max_length=max_length, validators=[MaxLengthValidator(max_length)], **kwargs
    )


class ScopedPrimaryKeyRelatedField(BoundedMany, serializers.PrimaryKeyRelatedField):
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


OFFSET_MISSING = "Give the time with its UTC offset (e.g. 2025-03-02T09:00:00-05:00 or ...Z); {value!r} has none."


class PlanningDateField(serializers.DateField):
    def to_internal_value(self, value):
        day = super().to_internal_value(value)
        if not EARLIEST_DAY <= day <= LATEST_DAY:
            raise serializers.ValidationError(OUT_OF_RANGE)
        return day


LOCAL_TIME_OFFSET = "A local time of the organisation's zone: give it without a UTC offset, e.g. 10:00."


class LocalTimeField(serializers.TimeField):
    """A wall-clock time in the organisation's zone; an offset would be dropped unread, so it is refused."""

    def to_internal_value(self, value):
        moment = super().to_internal_value(value)  # Django's parse_time drops an offset, so read the text for one
        try:
            offset = isinstance(value, str) and dt.time.fromisoformat(value).tzinfo is not None
        except ValueError:
            offset = False
        if offset:
            raise serializers.ValidationError(LOCAL_TIME_OFFSET)
        return moment


class PlanningDateTimeField(serializers.DateTimeField):
    """An instant: a time without an offset is refused, never guessed (the server's zone is not the caller's)."""

    def to_internal_value(self, value):
        try:
            parsed = parse_datetime(value) if isinstance(value, str) else value
        except ValueError:  # a well-formed but impossible time: DRF below refuses it with its own message
            parsed = None
        if isinstance(parsed, dt.datetime) and parsed.utcoffset() is None:
            raise serializers.ValidationError(OFFSET_MISSING.format(value=value))
        moment = super().to_internal_value(value)
        if not EARLIEST_DAY <= moment.date() <= LATEST_DAY:
            raise serializers.ValidationError(OUT_OF_RANGE)
        return moment
