"""Builds the demo region. Deterministic for a given seed so demos and screenshots repeat."""
from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field

from django.db import transaction
from django.utils.text import slugify

from dispatch import models as m
from dispatch.demo import region
from dispatch.services.api_tokens import api_tokens_reissue
from dispatch.skills import skill_ensure_standard

DEMO_SLUG = "rounds-demo"
# Long enough for the password validators (12 characters at least), and easy to type in a demo.
DEMO_PASSWORD = "calm-hands-at-nine"

DURATIONS = [15, 20, 20, 20, 25, 30, 30, 30, 30, 45, 60, 90]  # 20 to 30 minutes is typical
PRIORITIES = [m.Priority.ROUTINE] * 15 + [m.Priority.SOON] * 4 + [m.Priority.URGENT] * 1


@dataclass
class SeedSummary:
    organization: m.Organization
    day: dt.date
    users: list[tuple[str, str]] = field(default_factory=list)  # username, role
    therapists: int = 0
    facilities: int = 0
    patients: int = 0
    visits: int = 0
    today: dt.date | None = None
    today_visits: int = 0


def _time(hhmm: str) -> dt.time:
    return dt.time.fromisoformat(hhmm)


def _demo_user(org: m.Organization, username: str, role: str, *, first: str, last: str, facility=None) -> m.User:
    user = m.User(
        username=username, organization=org, role=role, first_name=first, last_name=last,
        email=f"{username}@demo.rounds.example", facility=facility, is_staff=role == m.Role.COORDINATOR,
    )
    user.set_password(DEMO_PASSWORD)
    user.save()
    if role == m.Role.COORDINATOR:
        # Coordinators manage the organisation's data in the admin too.
        from django.contrib.auth.models import Permission

        user.user_permissions.set(Permission.objects.filter(content_type__app_label="dispatch"))
    return user


def demo_tokens_issue() -> list[tuple[m.User, str]]:
    """A fresh API token for every demo user (tokens are stored hashed, so old ones cannot be shown again)."""
    users = m.User.objects.filter(organization__slug=DEMO_SLUG).order_by("pk")
    return [(user, api_tokens_reissue(user=user)) for user in users]


def demo_reset() -> None:
    org = m.Organization.objects.filter(slug=DEMO_SLUG).first()
    if org is None:
        return
    m.PlanRun.objects.filter(organization=org).delete()
    m.Visit.objects.filter(organization=org).delete()
    m.VisitSeries.objects.filter(organization=org).delete()
    m.Patient.objects.filter(organization=org).delete()
    m.Therapist.objects.filter(organization=org).delete()
    m.User.objects.filter(organization=org).delete()
    m.Facility.objects.filter(organization=org).delete()
    org.delete()


class _Builder:
    def __init__(self, *, day: dt.date, seed: int) -> None:
        self.rng = random.Random(seed)
        self.day = day
        self.tz = None

    def point_in(self, hood: str) -> tuple[float, float]:
        _, lat0, lat1, lon0, lon1 = next(n for n in region.NEIGHBOURHOODS if n[0] == hood)
        return round(self.rng.uniform(lat0, lat1), 6), round(self.rng.uniform(lon0, lon1), 6)

    def address(self) -> str:
        return f"{self.rng.randint(10, 2400)} {self.rng.choice(region.STREETS)}"

    def at(self, hhmm: str) -> dt.datetime:
        return dt.datetime.combine(self.day, _time(hhmm), tzinfo=self.tz)


@transaction.atomic
def demo_seed(
    *, day: dt.date, seed: int = 7, visits: int = 150, today: dt.date | None = None, today_visits: int = 100
) -> SeedSummary:
    """The region with ``visits`` requests on ``day``; with ``today``, also ``today_visits`` requests for today
    (``demo_today_start`` plans them and starts the day, so a re-plan can be tried at once)."""
    demo_reset()
    b = _Builder(day=day, seed=seed)
    org = m.Organization.objects.create(name="Rounds Demo: Toronto Comfort Care", slug=DEMO_SLUG, timezone=region.TIMEZONE)
    b.tz = org.tz
    summary = SeedSummary(organization=org, day=day)
    skills = skill_ensure_standard()

    coordinator = _demo_user(org, "coordinator", m.Role.COORDINATOR, first="Dana", last="Whitfield")
    summary.users.append(("coordinator", m.Role.COORDINATOR))

    facilities, credentials = _seed_facilities(org, b)
    summary.facilities = len(facilities)
    therapists = _seed_therapists(org, b, skills, credentials, summary)
    summary.therapists = len(therapists)
    for fac in facilities:
        user = _demo_user(org, f"staff-{slugify(fac.name)[:40]}", m.Role.FACILITY_STAFF, first="Front", last="Desk", facility=fac)
        summary.users.append((user.username, m.Role.FACILITY_STAFF))

    patients = _seed_patients(org, b, facilities, therapists)
    summary.patients = len(patients)
    summary.visits = _seed_visits(org, b, patients, skills, visits, coordinator)
    if today is not None and today != day:
        # Its own random stream, so tomorrow's requests stay the same with or without today's.
        now_builder = _Builder(day=today, seed=seed + 1)
        now_builder.tz = org.tz
        summary.today = today
        summary.today_visits = _seed_visits(org, now_builder, patients, skills, today_visits, coordinator)
    return summary


def _seed_facilities(org, b: _Builder):
    credentials = {}
    facilities = []
    for name, address, lat, lon, cred_code in region.HOSPITALS:
        cred = m.CredentialType.objects.create(organization=org, code=cred_code, name=f"{name} credentialing")
        credentials[cred_code] = cred
        fac = m.Facility.objects.create(
            organization=org, name=name, kind=m.CareSetting.HOSPITAL, address=f"{address}, {region.CITY}",
            lat=lat, lon=lon, visiting_hours_start=_time("09:00"), visiting_hours_end=_time("20:00"),
            checkin_overhead_min=10, phone="416-555-01" + str(len(facilities)).zfill(2),
        )
        fac.required_credentials.add(cred)
        facilities.append(fac)
    for name, address, lat, lon in region.ASSISTED_LIVING:
        facilities.append(m.Facility.objects.create(
            organization=org, name=name, kind=m.CareSetting.ASSISTED_LIVING, address=f"{address}, {region.CITY}",
            lat=lat, lon=lon, visiting_hours_start=_time("08:00"), visiting_hours_end=_time("20:00"),
            checkin_overhead_min=5,
        ))
    name, address, lat, lon = region.HOSPICE
    facilities.append(m.Facility.objects.create(
        organization=org, name=name, kind=m.CareSetting.HOSPICE, address=f"{address}, {region.CITY}",
        lat=lat, lon=lon, checkin_overhead_min=5, default_buffer_min=20,
    ))
    return facilities, credentials


def _seed_therapists(org, b: _Builder, skills, credentials, summary: SeedSummary) -> list[m.Therapist]:
    therapists = []
    for i, (name, gender, langs, skill_codes, speed, (start, end), days, hood) in enumerate(region.THERAPISTS, 1):
        first, last = name.split(" ", 1)
        user = _demo_user(org, f"therapist{i}", m.Role.THERAPIST, first=first, last=last)
        summary.users.append((user.username, m.Role.THERAPIST))
        lat, lon = b.point_in(hood)
        t = m.Therapist.objects.create(
            organization=org, user=user, display_name=name, home_address=f"{b.address()}, {region.CITY}",
            home_lat=lat, home_lon=lon, languages=langs, gender=gender, speed_profile=speed,
            max_visits_per_day=12, max_working_minutes_per_day=510,
        )
        t.skills.set(skills[c] for c in skill_codes)
        weekdays = range(5) if days == "weekdays" else range(7)
        m.WeeklyAvailability.objects.bulk_create(
            m.WeeklyAvailability(therapist=t, weekday=d, start_time=_time(start), end_time=_time(end)) for d in weekdays
        )
        shift_hours = (dt.datetime.combine(b.day, _time(end)) - dt.datetime.combine(b.day, _time(start))).seconds / 3600
        if shift_hours >= 7:
            m.TherapistBreak.objects.create(
                therapist=t, earliest_start=_time("11:30") if start < "11:00" else _time("15:00"),
                latest_start=_time("13:30") if start < "11:00" else _time("17:00"), duration_min=30,
            )
        if "hospital-based" in skill_codes:
            for code, cred in credentials.items():
                # One lapsed credential shows why a hospital visit cannot go to that therapist.
                expired = i == 5 and code == "north-york-credentialing"
                expires = b.day - dt.timedelta(days=3) if expired else b.day + dt.timedelta(days=200 + 30 * i)
                m.TherapistCredential.objects.create(therapist=t, credential_type=cred, expires_on=expires)
        therapists.append(t)
    # A dated exception: one therapist is off tomorrow afternoon, another picks up an extra evening.
    m.AvailabilityException.objects.create(
        therapist=therapists[2], date=b.day, kind=m.ExceptionKind.TIME_OFF,
        start_time=_time("13:00"), end_time=_time("16:30"), note="Dentist",
    )
    m.AvailabilityException.objects.create(
        therapist=therapists[7], date=b.day, kind=m.ExceptionKind.EXTRA_SHIFT,
        start_time=_time("15:00"), end_time=_time("18:00"), note="Covering the hospice",
    )
    return therapists


def _seed_patients(org, b: _Builder, facilities, therapists) -> list[m.Patient]:
    rng = b.rng
    patients = []

    def person() -> tuple[str, str]:
        return rng.choice(region.FIRST_NAMES), rng.choice(region.LAST_NAMES)

    per_kind = {m.CareSetting.HOSPITAL: 8, m.CareSetting.ASSISTED_LIVING: 6, m.CareSetting.HOSPICE: 6}
    for fac in facilities:
        for n in range(per_kind[m.CareSetting(fac.kind)]):
            first, last = person()
            patients.append(m.Patient(
                organization=org, facility=fac, first_name=first, last_name=last,
                room=f"{rng.randint(2, 9)}{rng.randint(10, 40)}", bed=rng.choice(["A", "B", ""]),
                diagnosis=rng.choice(region.DIAGNOSES), referring_clinician=f"Dr. {rng.choice(region.LAST_NAMES)}",
                referral_date=b.day - dt.timedelta(days=rng.randint(5, 60)),
                referral_expires=b.day + dt.timedelta(days=rng.randint(20, 120)),
                payer=rng.choice(["OHIP palliative program", "Private insurance", "Hospital foundation"]),
                units_authorized=12, units_used=rng.randint(0, 8),
            ))
    hoods = [n[0] for n in region.NEIGHBOURHOODS]
    for n in range(80):
        first, last = person()
        lat, lon = b.point_in(rng.choice(hoods))
        patients.append(m.Patient(
            organization=org, first_name=first, last_name=last, address=f"{b.address()}, {region.CITY}",
            lat=lat, lon=lon, phone=f"416-555-{rng.randint(1000, 9999)}",
            access_notes=rng.choice(["", "Side door, ring twice", "Buzzer 214", "Parking in the driveway"]),
            preferred_therapist_gender=rng.choice(["", "", "", "female"]),
            diagnosis=rng.choice(region.DIAGNOSES), referring_clinician=f"Dr. {rng.choice(region.LAST_NAMES)}",
            referral_date=b.day - dt.timedelta(days=rng.randint(5, 60)),
            payer=rng.choice(["OHIP palliative program", "Private insurance", "Self-pay"]),
        ))
    patients = m.Patient.objects.bulk_create(patients)
    for i, p in enumerate(patients):
        if rng.random() < 0.6:
            kind, site, note = rng.choice(region.PRECAUTIONS)
            m.Precaution.objects.create(patient=p, kind=kind, body_site=site, note=note)
        if i % 7 == 0:
            p.preferred_therapists.add(rng.choice(therapists))
        if i % 23 == 0:
            p.excluded_therapists.add(rng.choice(therapists))
    # Fever and a contagious infection rule these visits out; the plan says so.
    for p, kind, note in [
        (patients[3], m.ContraindicationKind.FEVER, "38.4 °C this morning"),
        (patients[40], m.ContraindicationKind.FEVER, "Febrile overnight"),
        (patients[70], m.ContraindicationKind.CONTAGIOUS, "C. difficile, contact precautions"),
    ]:
        m.Contraindication.objects.create(patient=p, kind=kind, note=note, active_from=b.day - dt.timedelta(days=1))
    return patients


def _seed_visits(org, b: _Builder, patients, skills, count: int, requested_by) -> int:
    rng = b.rng
    created = 0
    order = patients + rng.sample([p for p in patients if p.facility_id], k=max(0, count - len(patients)))
    for p in order[:count]:
        fac = p.facility
        setting = m.CareSetting(fac.kind) if fac else m.CareSetting.HOME
        duration = rng.choice(DURATIONS)
        if setting == m.CareSetting.HOSPITAL:
            windows = rng.choice([[("10:00", "12:00"), ("14:00", "16:30")], [("09:30", "12:00")], [("13:00", "17:00")]])
            wanted = ["hospital-based"] + rng.choice([["oncology"], ["clinical"], ["palliative"], []])
        elif setting == m.CareSetting.HOSPICE:
            windows = [("09:00", "18:00")]
            wanted = ["palliative"]
        elif setting == m.CareSetting.ASSISTED_LIVING:
            windows = rng.choice([[("09:00", "11:30")], [("13:30", "16:30")], [("09:00", "16:00")]])
            wanted = rng.choice([["geriatric"], [], ["reflexology"]])
        else:
            windows = rng.choice([
                [("08:30", "12:00")], [("12:00", "17:00")], [("09:00", "17:00")], [("10:00", "11:30")],
                [("09:00", "11:00"), ("15:00", "17:00")], [("16:00", "19:30")],
            ])
            wanted = rng.choice([["palliative"], ["oncology"], ["mld"], ["clinical"], [], ["palliative", "mld"]])
        where = f"{fac.name}, room {p.room}{p.bed}" if fac else p.address
        visit = m.Visit.objects.create(
            organization=org, patient=p, facility=fac, location_text=where,
            lat=fac.lat if fac else p.lat, lon=fac.lon if fac else p.lon, date=b.day, duration_min=duration,
            priority=rng.choice(PRIORITIES) if setting != m.CareSetting.HOSPICE else m.Priority.URGENT,
            requested_by=requested_by,
            instructions=rng.choice(["", "", "Family present in the afternoon", "Call 15 min before arriving"]),
        )
        visit.required_skills.set(skills[c] for c in wanted)
        m.VisitWindow.objects.bulk_create(
            m.VisitWindow(visit=visit, start=b.at(s), end=b.at(e)) for s, e in windows
        )
        created += 1
    return created
