"""One calendar answer for the feeds and the single-visit download: ETag, Last-Modified, 304, caching."""

from __future__ import annotations

import datetime as dt
import hashlib

from django.http import HttpResponse
from django.utils.cache import get_conditional_response
from django.utils.http import http_date
from rest_framework.response import Response

CACHE_CONTROL = "private, max-age=300"


def calendar_etag(body: bytes) -> str:
    return f'"{hashlib.sha256(body).hexdigest()}"'


def calendar_not_modified(request, *, etag: str, last_modified: dt.datetime | None) -> HttpResponse | None:
    """The 304 (or 412) a conditional request earns from a known validator, before any body exists; else None."""
    headers = HttpResponse()
    headers["Cache-Control"] = CACHE_CONTROL
    headers["ETag"] = etag
    stamp = int(last_modified.timestamp()) if last_modified else None
    if stamp is not None:
        headers["Last-Modified"] = http_date(stamp)
    answer = get_conditional_response(
        request._request if hasattr(request, "_request") else request, etag=etag, last_modified=stamp, response=headers
    )
    return answer if answer is not headers else None


def calendar_response(request, calendar, *, filename: str, last_modified: dt.datetime | None) -> Response:
    response = Response(calendar)
    response["Cache-Control"] = CACHE_CONTROL
    response["Content-Disposition"] = f'inline; filename="{filename}"'

    def conditional(rendered):
        # The ETag hashes the body, which exists only once the renderer has run.
        etag = calendar_etag(rendered.content)
        rendered["ETag"] = etag
        stamp = int(last_modified.timestamp()) if last_modified else None
        if stamp is not None:
            rendered["Last-Modified"] = http_date(stamp)
        not_modified = get_conditional_response(
            request._request if hasattr(request, "_request") else request,
            etag=etag,
            last_modified=stamp,
            response=rendered,
        )
        return not_modified if not_modified is not rendered else None

    response.add_post_render_callback(conditional)
    return response
