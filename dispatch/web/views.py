from __future__ import annotations

import datetime as dt

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.csrf import ensure_csrf_cookie

from dispatch.models import Role
from dispatch.web.data import board_day

BOARD_ROLES = (Role.COORDINATOR, Role.THERAPIST)


def _day(request: HttpRequest, tz) -> dt.date | None:
    raw = request.GET.get("date")
    if not raw:
        return timezone.localdate(timezone=tz) + dt.timedelta(days=1)
    try:
        day = dt.date.fromisoformat(raw)
    except ValueError:
        return None
    return day if dt.date(2000, 1, 1) <= day <= dt.date(2099, 12, 31) else None


def _refused(request: HttpRequest) -> HttpResponse | None:
    if request.user.organization_id is None or request.user.role not in BOARD_ROLES:
        return render(request, "board/forbidden.html", status=403)
    return None


@login_required
@ensure_csrf_cookie
def board(request: HttpRequest) -> HttpResponse:
    if (refused := _refused(request)) is not None:
        return refused
    day = _day(request, request.user.organization.tz)
    if day is None:
        return render(request, "board/forbidden.html", {"message": "That is not a date."}, status=400)
    return render(request, "board/board.html", {"day": day, "role": request.user.role})


@login_required
def board_data(request: HttpRequest) -> HttpResponse:
    if (refused := _refused(request)) is not None:
        return JsonResponse({"detail": "The board is for coordinators and therapists."}, status=403)
    day = _day(request, request.user.organization.tz)
    if day is None:
        return JsonResponse({"date": ["Give a date as YYYY-MM-DD between 2000 and 2099."]}, status=400)
    return JsonResponse(board_day(user=request.user, day=day))
