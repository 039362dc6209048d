"""Facility staff request visits for their patients and follow them; the form posts to the API."""
from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import ensure_csrf_cookie

from dispatch.models import MAX_DURATION_MIN, MIN_DURATION_MIN, Role
from dispatch.web.facility_data import facility_page

FOR_STAFF = "The request page is for facility staff; coordinators see every request on the board."


@login_required
@ensure_csrf_cookie
def facility(request: HttpRequest) -> HttpResponse:
    user = request.user
    if user.organization_id is None or user.role != Role.FACILITY_STAFF or user.facility_id is None:
        return render(request, "board/forbidden.html", {"message": FOR_STAFF}, status=403)
    context = facility_page(user=user)
    context.update(min_duration=MIN_DURATION_MIN, max_duration=MAX_DURATION_MIN, locale=user.organization.locale)
    return render(request, "facility/facility.html", context)
