"""List filters that refuse a query parameter they do not know.

django-filter ignores one: ``/api/v1/visits?stauts=requested`` answers every visit, and the script that typed it
acts on the wrong list. A list answers 400 on each unknown parameter, naming the ones it takes.
"""
from __future__ import annotations

import django_filters
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.exceptions import ValidationError
from rest_framework.settings import api_settings

UNKNOWN_PARAMETER = "Unknown query parameter; this list takes: {known}."
REPEATED_PARAMETER = "Given {count} times; give it once."


def refuse_unknown_params(request, *, known: set[str], repeatable: set[str] = frozenset()) -> None:
    """400 on a parameter the route does not take, or one that takes one value given twice (which of the two would
    win is up to the framework, and the caller meant one of them)."""
    errors = {}
    if api_settings.URL_FORMAT_OVERRIDE:
        known = known | {api_settings.URL_FORMAT_OVERRIDE}
    if unknown := sorted(set(request.query_params) - known):
        message = UNKNOWN_PARAMETER.format(known=", ".join(sorted(known)) or "none")
        errors |= {name: [message] for name in unknown}
    for name in sorted(set(request.query_params) & known - repeatable):
        if (count := len(request.query_params.getlist(name))) > 1:
            errors[name] = [REPEATED_PARAMETER.format(count=count)]
    if errors:
        raise ValidationError(errors)


class KnownParamsFilterBackend(DjangoFilterBackend):
    def filter_queryset(self, request, queryset, view):
        if getattr(view, "action", "list") == "list":  # a detail read finds its row through here too
            self.refuse_unknown(request, queryset, view)
        return self.filter_known(request, queryset, view)

    def filter_known(self, request, queryset, view):
        """The filtering once the parameters are known good; a subclass whose selector filters overrides it."""
        return super().filter_queryset(request, queryset, view)

    def refuse_unknown(self, request, queryset, view) -> None:
        filterset_class = self.get_filterset_class(view, queryset)
        filters = filterset_class.base_filters if filterset_class else {}
        known = set(filters)
        known |= set(getattr(view, "query_params_taken", ()))  # a list that reads its own (a FilterSerializer)
        paginator = getattr(view, "paginator", None)
        for name in ("page_query_param", "page_size_query_param"):
            if param := getattr(paginator, name, None):
                known.add(param)
        repeatable = {name for name, f in filters.items() if isinstance(f, django_filters.MultipleChoiceFilter)}
        refuse_unknown_params(request, known=known, repeatable=repeatable)
