from __future__ import annotations

import datetime as dt
import json
import time

from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.test import Client
from django.utils import timezone

from config.sessions import LOGGED_IN_AT, SEEN_AT
from dispatch.demo.seed import DEMO_SLUG
from dispatch.models import (
    Facility,
    Patient,
    Role,
    Therapist,
    User,
    Visit,
    VisitStatus,
    VisitWindow,
    WeeklyAvailability,
)
from dispatch.services.api_tokens import api_tokens_reissue
from dispatch.services.feed_tokens import feed_token_rotate, feed_urls

# Four sessions a day each (palliative sessions of 45-60 min with travel between). Tomorrow's at SLOTS; today's
# as a day under way looks at the run's hour (today_slots): the session before now is done, the next ones are open
# for check-in (the load checks them in) and the last is the one a late report is about. Until 2026-12-03 every
# session of today stayed booked and not checked in, so a run in the afternoon had all 500 therapists late
# (982 visits), which no agency's board shows and which made every therapist's live marks move each minute.
SLOTS = ("08:00", "10:30", "13:00", "15:30")
SESSION_MIN, BUFFER_MIN, DRIVE_MIN, WINDOW_MARGIN_MIN = 45, 15, 20, 60  # each session's, as _visits books it
SPACING_MIN, TIGHTEST_MIN = 90, SESSION_MIN + BUFFER_MIN + DRIVE_MIN  # the session, its buffer and the drive: 80
FIRST_OPEN_IN_MIN = 20  # the next session starts this long after the run starts (not late during the run)
DAY_STARTS, DAY_ENDS = dt.time(0, 5), dt.time(23, 55)
HELD_AFTER_START_MIN = SESSION_MIN + BUFFER_MIN + WINDOW_MARGIN_MIN  # the session, its buffer, its window's end
# One therapist in LATE_EVERY has not checked in to a session that began LATE_BY_MIN ago: late on the board (10 min
# without a check-in), as a few are on a real morning, and checked in late by the load. Still inside its window.
LATE_EVERY, LATE_BY_MIN = 50, 12


def today_slots(now: dt.datetime) -> list[dt.time]:
    """Today's four sessions for a run at now (local): one before now when the day has room for it (done), then
    sessions from FIRST_OPEN_IN_MIN on, all within today's date; a run late in the evening gets them earlier (so
    some are late), a run just after midnight has none done."""
    day = now.date()
    at = lambda t: dt.datetime.combine(day, t, tzinfo=now.tzinfo)  # noqa: E731
    first_open = (now.replace(second=0, microsecond=0)  # on a 5-minute mark, FIRST_OPEN_IN_MIN to +5 from now
                  + dt.timedelta(minutes=FIRST_OPEN_IN_MIN + 5 - now.minute % 5))
    latest_end = at(DAY_ENDS) - dt.timedelta(minutes=HELD_AFTER_START_MIN)
    for spacing in (SPACING_MIN, TIGHTEST_MIN):
        gap = dt.timedelta(minutes=spacing)
        done = first_open - gap >= at(DAY_STARTS)
        upcoming = 3 if done else 4
        if first_open + gap * (upcoming - 1) <= latest_end:
            break
    start = min(first_open, latest_end - gap * (upcoming - 1))
    if not done:
        start = max(start, at(DAY_STARTS))
    starts = [start + gap * k for k in range(-1 if done else 0, upcoming)]
    return [s.time() for s in starts]


MOVED = ["planned_start", "planned_end", "planned_busy_until"]


def _move(visit: Visit, start: dt.datetime) -> None:
    """The visit's held time moved to start, as long as before (inside its window: an hour either side)."""
    held = visit.planned_busy_until - visit.planned_start
    visit.planned_start, visit.planned_end = start, start + dt.timedelta(minutes=visit.duration_min)
    visit.planned_busy_until = start + held


PATIENTS_PER_NEW_FACILITY = 6
UNUSABLE = make_password(None)


def _copy(instance, **changes):
    fields = {f.attname: getattr(instance, f.attname) for f in instance._meta.concrete_fields if not f.primary_key}
    return type(instance)(**{**fields, **changes})


class Command(BaseCommand):
    help = (
        "Grow the planned demo region into an agency for `make load`: therapists, facilities, staff and coordinators "
        "with their feed URLs, API tokens and board sessions, today's and tomorrow's visits booked (JSON to --out)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--therapists", type=int, default=500)
        parser.add_argument("--facilities", type=int, default=100)
        parser.add_argument("--staff-per-facility", type=int, default=3)
        parser.add_argument("--coordinators", type=int, default=20)
        parser.add_argument("--base", default="http://127.0.0.1:8766")
        parser.add_argument("--out", required=True)

    @transaction.atomic
    def handle(self, *args, **opts) -> None:
        template = Therapist.objects.filter(organization__slug=DEMO_SLUG, user__username="therapist1").first()
        if template is None:
            raise CommandError("Load the demo first: manage.py seed_demo")
        org = template.organization
        today = timezone.localdate(timezone=org.tz)
        tomorrow = today + dt.timedelta(days=1)
        therapists = self._therapists(org, template, opts["therapists"])
        facilities = self._facilities(org, opts["facilities"])
        patients = list(Patient.objects.filter(organization=org).select_related("facility").order_by("pk"))
        # Only the generated days: the demo's own plan for its day is replaced by this agency's.
        Visit.objects.filter(organization=org, date__in=[today, tomorrow]).delete()
        slots = {today: today_slots(timezone.localtime(timezone=org.tz)),
                 tomorrow: [dt.time.fromisoformat(hhmm) for hhmm in SLOTS]}
        visits = self._visits(org, therapists, patients, slots)
        self._under_way(visits, today=today, now=timezone.now())
        base = opts["base"].rstrip("/")

        def feed(**owner) -> str:
            token, secret = feed_token_rotate(**owner)
            return f"{base}/feeds/" + feed_urls(feed_token=token, token=secret).url.split("/feeds/", 1)[1]

        therapist_rows = []
        for t in therapists:
            own = [v for v in visits if v.therapist_id == t.pk and v.date == today and v.status == VisitStatus.SCHEDULED]
            therapist_rows.append({
                "feed": feed(therapist=t), "token": api_tokens_reissue(user=t.user),
                # The last of the day is the one a late report is about; the others still to come are checked in.
                "check_in": [v.pk for v in own[:-1]], "late": [own[-1].pk] if own else [],
            })
        staff_rows = []
        by_facility = {}
        for p in patients:
            if p.facility_id:
                by_facility.setdefault(p.facility_id, []).append(p.pk)
        for fac in facilities:
            for n in range(opts["staff_per_facility"]):
                user = User.objects.create(
                    username=f"load-staff-{fac.pk}-{n}", password=UNUSABLE, organization=org,
                    role=Role.FACILITY_STAFF, facility=fac,
                )
                staff_rows.append({
                    "feed": feed(facility=fac, user=user), "token": api_tokens_reissue(user=user),
                    "patients": by_facility.get(fac.pk, []),
                })
        coordinator_rows = []
        for n in range(opts["coordinators"]):
            user, _ = User.objects.get_or_create(
                username=f"load-coordinator-{n}",
                defaults={"password": UNUSABLE, "organization": org, "role": Role.COORDINATOR},
            )
            client = Client()
            client.force_login(user)
            session = client.session
            session[LOGGED_IN_AT] = session[SEEN_AT] = int(time.time())
            session.save()
            coordinator_rows.append({"token": api_tokens_reissue(user=user), "session": session.session_key})
        with open(opts["out"], "w") as out:
            json.dump({
                "base": base, "today": today.isoformat(), "tomorrow": tomorrow.isoformat(),
                "therapists": therapist_rows, "staff": staff_rows, "coordinators": coordinator_rows,
                "visits": len(visits), "facilities": len(facilities),
                "utc_offset": dt.datetime.combine(tomorrow, dt.time(12), tzinfo=org.tz).isoformat()[-6:],
            }, out)
        self.stdout.write(f"{len(therapists)} therapists, {len(facilities)} facilities, {len(staff_rows)} staff, "
                          f"{len(coordinator_rows)} coordinators, {len(visits)} visits on {today} and {tomorrow}; "
                          f"today's at {', '.join(t.strftime('%H:%M') for t in slots[today])}")

    def _therapists(self, org, template, count: int) -> list[Therapist]:
        existing = list(Therapist.objects.filter(organization=org, active=True).order_by("pk"))
        weekly = list(WeeklyAvailability.objects.filter(therapist=template))
        missing = max(0, count - len(existing))
        users = User.objects.bulk_create(
            User(username=f"load-therapist-{n}", password=UNUSABLE, organization=org, role=Role.THERAPIST,
                 first_name="Load", last_name=f"Therapist {n}")
            for n in range(missing)
        )
        added = Therapist.objects.bulk_create(
            _copy(template, user_id=u.pk, display_name=f"Load Therapist {n}") for n, u in enumerate(users)
        )
        WeeklyAvailability.objects.bulk_create(
            _copy(w, therapist_id=t.pk) for t in added for w in weekly
        )
        return list(Therapist.objects.filter(pk__in=[t.pk for t in existing + added]).select_related("user"))[:count]

    def _facilities(self, org, count: int) -> list[Facility]:
        existing = list(Facility.objects.filter(organization=org).order_by("pk"))
        template = existing[0]
        resident = Patient.objects.filter(facility=template).first()
        added = Facility.objects.bulk_create(
            _copy(template, name=f"Load Facility {n}") for n in range(max(0, count - len(existing)))
        )
        Patient.objects.bulk_create(
            _copy(resident, facility_id=fac.pk, first_name=f"Resident{k}", last_name=f"Of {fac.name}")
            for fac in added for k in range(PATIENTS_PER_NEW_FACILITY)
        )
        return (existing + added)[:count]

    def _under_way(self, visits: list[Visit], *, today: dt.date, now: dt.datetime) -> None:
        """Today as it stands at now: a session whose held time is over went as planned (done), and one therapist
        in LATE_EVERY has a session that began LATE_BY_MIN ago without a check-in."""
        done, late = [], []
        by_therapist: dict[int, list[Visit]] = {}
        for v in visits:
            if v.date == today:
                by_therapist.setdefault(v.therapist_id, []).append(v)
        late_start = now.replace(second=0, microsecond=0) - dt.timedelta(minutes=LATE_BY_MIN)
        day_starts = dt.datetime.combine(today, DAY_STARTS, tzinfo=late_start.tzinfo)
        for n, own in enumerate(by_therapist.values()):
            own.sort(key=lambda v: v.planned_start)
            first = own.pop(0) if own[0].planned_busy_until <= now else None
            # The late one's session before it moved earlier to leave room (a drive between).
            if n % LATE_EVERY == 0 and own and late_start < own[0].planned_start and (
                first is None or late_start - dt.timedelta(minutes=TIGHTEST_MIN) >= day_starts
            ):
                _move(own[0], late_start)
                late.append(own[0])
                if first is not None and first.planned_busy_until > late_start - dt.timedelta(minutes=DRIVE_MIN):
                    _move(first, late_start - dt.timedelta(minutes=TIGHTEST_MIN))
            if first is not None:
                first.status, first.actual_start, first.actual_end = (
                    VisitStatus.COMPLETED, first.planned_start, first.planned_end)
                done.append(first)
        Visit.objects.bulk_update(done, ["status", "actual_start", "actual_end", *MOVED])
        Visit.objects.bulk_update(late, MOVED)

    def _visits(self, org, therapists, patients, slots: dict[dt.date, list[dt.time]]) -> list[Visit]:
        visits = []
        k = 0
        for day, times in slots.items():
            for t in therapists:
                for at in times:
                    patient = patients[k % len(patients)]
                    k += 1
                    start = dt.datetime.combine(day, at, tzinfo=org.tz)
                    place = patient.facility or patient
                    visits.append(Visit(
                        organization=org, patient=patient, facility=patient.facility,
                        location_text=getattr(place, "address", "") or "Address on file",
                        lat=place.lat, lon=place.lon, date=day, duration_min=SESSION_MIN,
                        status=VisitStatus.SCHEDULED, therapist=t, planned_start=start,
                        planned_end=start + dt.timedelta(minutes=SESSION_MIN),
                        planned_busy_until=start + dt.timedelta(minutes=SESSION_MIN + BUFFER_MIN),
                        planned_travel_min=DRIVE_MIN, planned_travel_km=8.5,
                    ))
        visits = Visit.objects.bulk_create(visits)
        VisitWindow.objects.bulk_create(
            VisitWindow(visit=v, start=v.planned_start - dt.timedelta(minutes=WINDOW_MARGIN_MIN),
                        end=v.planned_busy_until + dt.timedelta(minutes=WINDOW_MARGIN_MIN))
            for v in visits
        )
        return visits
