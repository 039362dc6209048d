from __future__ import annotations

import icalendar
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.renderers import BaseRenderer


class ICalendarRenderer(BaseRenderer):
    """Renders an icalendar.Calendar (or its bytes); an error answer (404, 429) goes out with an empty body."""

    media_type = "text/calendar"
    format = "ics"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        if isinstance(data, icalendar.Calendar):
            return data.to_ical()
        if isinstance(data, bytes):  # already rendered (a cached feed)
            return data
        return b""


class CalendarOnlyNegotiation(BaseContentNegotiation):
    """Calendar clients send all sorts of Accept headers; the answer is a calendar whatever they ask."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type
