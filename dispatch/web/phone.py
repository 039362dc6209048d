"""The therapist's phone app (an installable web app) and the calendar subscription page."""
from __future__ import annotations

import segno
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_http_methods

from dispatch.models import Role
from dispatch.selectors.feeds import feed_token_active
from dispatch.services.feed_tokens import feed_owner_of_user, feed_token_rotate, feed_urls
from dispatch.web.auth import login_required_json
from dispatch.web.phone_data import therapist_day
from dispatch.web.views import NOT_A_DATE, parse_day

FOR_THERAPISTS = (
    "The phone app is for therapists: coordinators plan on the board, facility staff on their request page."
)


def _is_therapist(user) -> bool:
    return user.organization_id is not None and user.role == Role.THERAPIST and hasattr(user, "therapist")


@login_required
@ensure_csrf_cookie
def app(request: HttpRequest) -> HttpResponse:
    if not _is_therapist(request.user):
        return render(request, "board/forbidden.html", {"message": FOR_THERAPISTS}, status=403)
    return render(request, "app/app.html", {"locale": request.user.organization.locale})


@login_required_json
def app_data(request: HttpRequest) -> HttpResponse:
    if not _is_therapist(request.user):
        return JsonResponse({"detail": FOR_THERAPISTS}, status=403)
    day = parse_day(request.GET.get("date"), default=timezone.localdate(timezone=request.user.organization.tz))
    if day is None:
        return JsonResponse({"date": [NOT_A_DATE]}, status=400)
    response = JsonResponse(therapist_day(user=request.user, day=day))
    # The service worker keeps its own copy for offline use; nothing else may.
    response["Cache-Control"] = "private, no-store"
    return response


@never_cache
def service_worker(request: HttpRequest) -> HttpResponse:
    """Served under /app/ so that its scope is the app; a template so it names the static files it caches."""
    response = render(request, "app/sw.js", content_type="text/javascript")
    response["Service-Worker-Allowed"] = "/app/"
    return response


def manifest(request: HttpRequest) -> HttpResponse:
    return render(request, "app/manifest.webmanifest", content_type="application/manifest+json")


def _qr_svg(url: str) -> str:
    # segno writes a self-contained <svg>; drawn by the server, so no script makes it.
    qr = segno.make(url, error="m")
    return qr.svg_inline(scale=5, dark="#1f2d3d", border=2, title="QR code of your calendar link")


@login_required
@require_http_methods(["GET", "POST"])
def calendar(request: HttpRequest) -> HttpResponse:
    """See whether a calendar link is active; make or rotate it (the URL can be shown only when it is made)."""
    owner = feed_owner_of_user(request.user) if request.user.organization_id else None
    if owner is None:
        return render(request, "board/forbidden.html", {
            "message": "Only therapists and facility staff have a calendar of their own.",
        }, status=403)
    context = {"facility": owner.get("facility"), "back": "/app/" if "therapist" in owner else "/facility/"}
    if request.method == "POST":
        feed_token, token = feed_token_rotate(**owner)
        urls = feed_urls(feed_token=feed_token, token=token)
        context.update(urls=urls, qr=_qr_svg(urls.webcal_url), active=feed_token)
    else:
        context["active"] = feed_token_active(**owner)
    return render(request, "calendar/subscribe.html", context)
