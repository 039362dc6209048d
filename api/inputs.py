"""Input serializers refuse what they do not take.

DRF drops keys a serializer has no writable field for, so a client that sends ``status`` to a PATCH, or
``lat`` to a check-out, gets a 200 and believes the change was made. Every input serializer derives from
InputSerializer or InputModelSerializer: an unknown key is a 400 on that key, next to any other errors,
in nested serializers too.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from django.http import QueryDict
from rest_framework import serializers
from rest_framework.renderers import JSONRenderer

UNKNOWN_FIELD = "Unknown field."
READ_ONLY_FIELD = "This field is read-only."
STATUS_ELSEWHERE = "status changes through /transition, check-in, check-out, or cancel; not here."


class StrictInput:
    # A key this serializer does not take, but the API does elsewhere -> where (shown instead of "Unknown field.").
    elsewhere: Mapping[str, str] = {}

    def to_internal_value(self, data):
        refused = self._refused_keys(data)
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            if refused and isinstance(exc.detail, dict):
                raise serializers.ValidationError({**exc.detail, **refused}) from exc
            raise
        if refused:
            raise serializers.ValidationError(refused)
        return value

    def _refused_keys(self, data) -> dict[str, list[str]]:
        if not isinstance(data, Mapping):
            return {}  # DRF's own error names the wrong type
        writable = {field.field_name for field in self._writable_fields}
        return {
            key: [self.elsewhere.get(key) or (READ_ONLY_FIELD if key in self.fields else UNKNOWN_FIELD)]
            for key in data
            if key not in writable
        }


class InputSerializer(StrictInput, serializers.Serializer):
    pass


class InputModelSerializer(StrictInput, serializers.ModelSerializer):
    pass


def without_unchanged_echoes(data: Any, *, shown: Mapping, serializer: serializers.Serializer, partial: bool) -> Any:
    """A client that reads a record, changes a field and sends the whole record back echoes what it cannot write
    (id, created_at, status). Unchanged, such a key says nothing and is dropped; changed, it stays and is refused,
    so nobody believes a read-only field was changed. A partial update drops every unchanged key: sending a value
    back as it was read asks for nothing (and a booked visit's planned_start echoed is not a move). A full update
    keeps the writable ones, which it needs."""
    if not isinstance(data, Mapping) or isinstance(data, QueryDict):
        return data
    keep = set() if partial else {field.field_name for field in serializer._writable_fields}
    as_read = json.loads(JSONRenderer().render(shown))  # what the client was given, in JSON's own types
    return {key: value for key, value in data.items() if key in keep or key not in as_read or as_read[key] != value}
