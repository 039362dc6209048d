"""The coordinator's board, and the start page that sends each role to its own screen."""
from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.csrf import ensure_csrf_cookie

from dispatch.cache_versions import OPEN, schedule_versions
from dispatch.models import PlanRun, Role
from dispatch.read_cache import PART_CACHE_S, cached_build, cached_stamped, day_parts, key_etag, revalidated
from dispatch.web.auth import login_required_json
from dispatch.web.data import (
    board_assemble,
    board_live,
    board_live_visits,
    board_marks_part,
    board_open,
    board_open_part,
    board_roster,
    board_row_part,
    board_rows,
)
from dispatch.web.preview import plan_preview

BOARD_ROLES = (Role.COORDINATOR, Role.THERAPIST)
HOME_BY_ROLE = {Role.COORDINATOR: "board", Role.THERAPIST: "app", Role.FACILITY_STAFF: "facility"}
BOARD_CACHE_S = 300
BOARD_LIVE_CACHE_S = 120  # the minute it is for, and the next, while that one's is being made
NOT_A_DATE = "Give a date as YYYY-MM-DD between 2000 and 2099."


def parse_day(raw: str | None, *, default: dt.date) -> dt.date | None:
    if not raw:
        return default
    try:
        day = dt.date.fromisoformat(raw)
    except ValueError:
        return None
    return day if dt.date(2000, 1, 1) <= day <= dt.date(2099, 12, 31) else None


def _day(request: HttpRequest, tz) -> dt.date | None:
    return parse_day(request.GET.get("date"), default=timezone.localdate(timezone=tz) + dt.timedelta(days=1))


def _refused(request: HttpRequest) -> HttpResponse | None:
    if request.user.organization_id is None or request.user.role not in BOARD_ROLES:
        return render(request, "board/forbidden.html", status=403)
    return None


@login_required
def home(request: HttpRequest) -> HttpResponse:
    name = HOME_BY_ROLE.get(request.user.role) if request.user.organization_id else None
    if name is None:
        return render(request, "board/forbidden.html", {"message": "Your account belongs to no organisation."},
                      status=403)
    return redirect(name)


@login_required
@ensure_csrf_cookie
def board(request: HttpRequest) -> HttpResponse:
    if (refused := _refused(request)) is not None:
        return refused
    if request.user.role == Role.THERAPIST:
        # A therapist's own day lives in the phone app, which also works offline.
        query = f"?date={request.GET['date']}" if request.GET.get("date") else ""
        return redirect(f"/app/{query}")
    day = _day(request, request.user.organization.tz)
    if day is None:
        return render(request, "board/forbidden.html", {"message": "That is not a date."}, status=400)
    return render(request, "board/board.html", {
        "day": day, "role": request.user.role, "locale": request.user.organization.locale,
        "tiles_url": settings.ROUNDS_MAP_TILES_URL, "tiles_attribution": settings.ROUNDS_MAP_ATTRIBUTION,
    })


def _scope(user) -> int | str:
    """Whose board a cached one is: a therapist's own, or their role's (every coordinator sees the same)."""
    return user.pk if user.role == Role.THERAPIST else user.role


def board_data_key(*, user, day: dt.date, now: dt.datetime, versions: tuple[int, int]) -> str:
    """Keyed on the organisation's version and the day's, so any change shows on the next read, and on the date
    (today's visits are marked checked in or done; what moves with the minute is the live overlay's)."""
    return f"board:{user.organization_id}:{versions[0]}.{versions[1]}:{_scope(user)}:{day}:{now.date()}"


def _live_key(*, data_key: str, now: dt.datetime) -> str:
    return f"board-live:{data_key}:{now:%H%M}"


def _roster(*, user, org_version: int) -> list[int]:
    return cached_stamped(key=f"board-roster:{user.organization_id}:{_scope(user)}", stamp=org_version,
                          timeout=PART_CACHE_S, build=lambda: board_roster(user=user))


def _board_parts(*, user, day: dt.date, org_version: int, live: bool = False, only: list[int] | None = None) -> list:
    """Each therapist's row (or, with live, what the live marks read of their day; None for a therapist no longer
    shown) in the board's order (or only these therapists'), and last, for a coordinator's rows, the day's open
    requests. Rows and live marks are cached apart, each with the version of its own (therapist, day), so that a
    check-in builds one row again, and the overlay reads a few hundred kB instead of every row."""
    org = user.organization_id
    roster = _roster(user=user, org_version=org_version) if only is None else only
    with_open = user.role == Role.COORDINATOR and not live
    today = day == timezone.localdate(timezone=user.organization.tz)

    def build(parts: list) -> dict:
        therapist_ids = [part for part in parts if part != OPEN]
        rows = board_rows(user=user, day=day, therapist_ids=therapist_ids) if therapist_ids else {}
        built: dict = {
            pk: board_live_visits(visits) if live else board_row_part(row, today=today)
            for pk, (row, visits) in rows.items()
        }
        if OPEN in parts:
            built[OPEN] = board_open_part(board_open(user=user, day=day))
        return built

    # Rows are kept rendered, and today's apart from other days' (marked from their status), so that a row made the
    # day before is not shown unmarked today: "board-row-today" and "board-row-json", new names so that a cache
    # kept across a deploy is not misread.
    kind = "board-live" if live else ("board-row-today" if today else "board-row-json")
    return day_parts(kind=kind, organization_id=org, org_version=org_version, day=day,
                     parts=[*roster, OPEN] if with_open else roster, build=build)


def _board_marks(*, user, day: dt.date, org_version: int, now: dt.datetime) -> list:
    """Each therapist's live marks now, cached per (therapist, day) version for as long as the clock leaves them
    as they are (MarksPart.until): a minute's first overlay makes again only the marks of therapists with a visit
    late (those move each minute) or turning late, and an overlay after a check-in that therapist's. Until
    2026-12-03 every therapist's marks were made again each minute (~35-55 ms of CPU for the agency of make load)."""

    def build(parts: list) -> dict:
        visits = _board_parts(user=user, day=day, org_version=org_version, live=True, only=parts)
        return {pk: board_marks_part(v, now=now) for pk, v in zip(parts, visits, strict=True)}

    # "board-marks-held": a new name, so that the minute-keyed parts a cache kept across a deploy are not misread.
    return day_parts(kind="board-marks-held", organization_id=user.organization_id, org_version=org_version,
                     day=day, parts=_roster(user=user, org_version=org_version), build=build,
                     fresh=lambda part: part is None or part.holds_at(now))


def board_assembled(*, user, day: dt.date, org_version: int) -> bytes:
    rows = _board_parts(user=user, day=day, org_version=org_version)
    open_part = rows.pop() if user.role == Role.COORDINATOR else board_open_part(board_open(user=user, day=day))
    return board_assemble(user=user, day=day, rows=rows, open_part=open_part)


def _board_request(request: HttpRequest) -> tuple[HttpResponse | None, dt.date | None]:
    if _refused(request) is not None:
        return JsonResponse({"detail": "The board is for coordinators and therapists."}, status=403), None
    day = _day(request, request.user.organization.tz)
    if day is None:
        return JsonResponse({"date": [NOT_A_DATE]}, status=400), None
    return None, day


@transaction.non_atomic_requests  # a read from the cache: no BEGIN and COMMIT round trips
@login_required_json
def board_data(request: HttpRequest) -> HttpResponse:
    refused, day = _board_request(request)
    if refused is not None:
        return refused
    now = timezone.localtime(timezone=request.user.organization.tz)
    versions = schedule_versions(organization_id=request.user.organization_id, day=day)
    key = board_data_key(user=request.user, day=day, now=now, versions=versions)
    etag = key_etag(key)
    if (not_modified := revalidated(request, etag)) is not None:
        return not_modified
    body = cached_build(key=key, timeout=BOARD_CACHE_S,
                        build=lambda: board_assembled(user=request.user, day=day, org_version=versions[0]))
    response = HttpResponse(body, content_type="application/json")
    response["ETag"], response["Cache-Control"] = etag, "private, no-cache"
    return response


@transaction.non_atomic_requests  # a read from the cache: no BEGIN and COMMIT round trips
@login_required_json
def board_live_data(request: HttpRequest) -> HttpResponse:
    """Today's live marks for the board of the same date and user (board_live), made once a minute per version."""
    refused, day = _board_request(request)
    if refused is not None:
        return refused
    now = timezone.localtime(timezone=request.user.organization.tz)
    if day != now.date():
        # No marks: nothing to read.
        return HttpResponse(board_live(day=day, now=now, marks=[]), content_type="application/json")
    versions = schedule_versions(organization_id=request.user.organization_id, day=day)
    data_key = board_data_key(user=request.user, day=day, now=now, versions=versions)
    key = _live_key(data_key=data_key, now=now)
    if (not_modified := revalidated(request, key_etag(key))) is not None:
        return not_modified

    def build() -> tuple[str, bytes]:
        marks = _board_marks(user=request.user, day=day, org_version=versions[0], now=now)
        return key_etag(key), board_live(day=day, now=now, marks=marks)

    # While this minute's is being made, the last minute's (same versions: nothing changed) will do, under its
    # own ETag, so that the browser asks again at its next poll.
    before = _live_key(data_key=data_key, now=now - dt.timedelta(minutes=1))
    etag, body = cached_build(key=key, build=build, timeout=BOARD_LIVE_CACHE_S, stale_key=before)
    response = HttpResponse(body, content_type="application/json")
    response["ETag"], response["Cache-Control"] = etag, "private, no-cache"
    return response


@login_required_json
def board_plan_preview(request: HttpRequest, plan_id: int) -> HttpResponse:
    if request.user.organization_id is None or request.user.role != Role.COORDINATOR:
        return JsonResponse({"detail": "Only dispatch coordinators may preview plans."}, status=403)
    run = get_object_or_404(PlanRun, pk=plan_id, organization_id=request.user.organization_id)
    if not run.result:
        return JsonResponse({"detail": f"Plan {run.pk} is {run.status}; it has nothing to preview yet."}, status=409)
    return JsonResponse(plan_preview(run=run))
