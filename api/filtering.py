"""List filters that refuse a query parameter they do not know.

django-filter ignores one: ``/api/v1/visits?stauts=requested`` answers every visit, and the script that typed it
acts on the wrong list. A list answers 400 on each unknown parameter, naming the ones it takes.
"""
from __future__ import annotations

from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.exceptions import ValidationError
from rest_framework.settings import api_settings

UNKNOWN_PARAMETER = "Unknown query parameter; this list takes: {known}."


class KnownParamsFilterBackend(DjangoFilterBackend):
    def filter_queryset(self, request, queryset, view):
        if getattr(view, "action", "list") == "list":  # a detail read finds its row through here too
            self.refuse_unknown(request, queryset, view)
        return super().filter_queryset(request, queryset, view)

    def refuse_unknown(self, request, queryset, view) -> None:
        filterset_class = self.get_filterset_class(view, queryset)
        known = set(filterset_class.base_filters) if filterset_class else set()
        known |= set(getattr(view, "query_params_taken", ()))  # a list that reads its own (a FilterSerializer)
        paginator = getattr(view, "paginator", None)
        for name in ("page_query_param", "page_size_query_param"):
            if param := getattr(paginator, name, None):
                known.add(param)
        if api_settings.URL_FORMAT_OVERRIDE:
            known.add(api_settings.URL_FORMAT_OVERRIDE)
        if unknown := sorted(set(request.query_params) - known):
            message = UNKNOWN_PARAMETER.format(known=", ".join(sorted(known)))
            raise ValidationError({name: [message] for name in unknown})
