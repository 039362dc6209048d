"""Generated agencies: the records an organisation has before its weeks are lived through.

Everything is drawn from one ``random.Random``, so a seed gives the same world every time. Records
are written with the ORM (they are the agency's past, not what the simulated users do); every
string a feed or the wrong role must never show carries a marker the invariants search for.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field

from dispatch import models as m
from dispatch.skills import skill_ensure_standard

PASSWORD = "simulated-operating-weeks"  # long enough for any password policy the project adopts
# Each agency: a zone and a city centre; two share a city, so their data sit side by side.
PLACES = (
    ("America/Toronto", 43.6532, -79.3832),
    ("America/Vancouver", 49.2827, -123.1207),
    ("America/Toronto", 43.7001, -79.4163),
    ("America/Halifax", 44.6488, -63.5752),
)
LANGUAGES = ("fr", "es", "pt", "zh", "pa")
# Most drive; a few walk, who can serve only what is near.
SPEEDS = {m.SpeedProfile.CAR: 50, m.SpeedProfile.TRANSIT: 30, m.SpeedProfile.BICYCLE: 15, m.SpeedProfile.WALK: 5}
SHIFT_PATTERNS = (
    # weekdays, periods (start, end), daily break (earliest, latest, minutes) or None
    ((0, 1, 2, 3, 4), (("08:00", "16:00"),), ("11:30", "13:30", 30)),
    ((1, 2, 3, 4, 5), (("10:00", "18:00"),), ("13:00", "15:00", 30)),
    ((0, 2, 4), (("09:00", "13:00"),), None),
    ((0, 1, 2, 3), (("07:30", "11:30"), ("14:00", "18:00")), None),
    ((2, 5, 6), (("09:00", "17:00"),), ("12:00", "14:00", 30)),
    ((0, 1, 2, 3, 4), (("12:00", "20:00"),), ("15:30", "17:00", 20)),
    ((0, 1, 3, 4, 5, 6), (("08:30", "15:30"),), ("11:45", "13:15", 30)),
)
FACILITY_KINDS = (
    # kind, check-in overhead, explicit default buffer, visiting hours
    (m.CareSetting.HOSPITAL, 10, None, ("09:00", "20:00")),
    (m.CareSetting.ASSISTED_LIVING, 5, None, ("08:00", "20:00")),
    (m.CareSetting.REHAB, 5, 10, None),
    (m.CareSetting.HOSPICE, 5, 20, None),
    (m.CareSetting.NURSING_HOME, 0, None, ("08:30", "19:30")),
)
FIRST = ("Ada", "Ben", "Chloe", "Dev", "Elif", "Farah", "Gus", "Hana", "Ivo", "Jun", "Kemal", "Lea", "Mo", "Nia")
LAST = ("Abara", "Brooks", "Chen", "Diaz", "Evans", "Fox", "Gill", "Haddad", "Ito", "Jensen", "Khan", "Lopez")


@dataclass(frozen=True)
class Scale:
    therapists: int
    home_patients: int
    patients_per_facility: int
    requests_per_day: int  # facility staff requests per agency and day, before series

    @classmethod
    def small(cls) -> Scale:
        return cls(therapists=5, home_patients=5, patients_per_facility=2, requests_per_day=7)

    @classmethod
    def full(cls) -> Scale:
        return cls(therapists=7, home_patients=10, patients_per_facility=4, requests_per_day=14)


@dataclass(frozen=True)
class Person:
    """A login and what it stands for."""

    username: str
    role: str
    agency: int
    user_id: int
    therapist_id: int | None = None
    facility_id: int | None = None


@dataclass
class Agency:
    index: int
    organization_id: int
    slug: str
    timezone: str
    centre: tuple[float, float]
    coordinator: Person
    therapists: list[Person] = field(default_factory=list)
    staff: list[Person] = field(default_factory=list)
    facility_ids: list[int] = field(default_factory=list)
    home_patient_ids: list[int] = field(default_factory=list)
    facility_patient_ids: dict[int, list[int]] = field(default_factory=dict)


@dataclass
class World:
    seed: int
    start: dt.date  # day 0: requests come in and the first plan is made in the evening
    days: int
    agencies: list[Agency]
    # marker -> (kind, patient id): strings that must never leave through the wrong door
    markers: dict[str, tuple[str, int]] = field(default_factory=dict)


def _t(hhmm: str) -> dt.time:
    return dt.time.fromisoformat(hhmm)


class _Builder:
    def __init__(self, *, rng: random.Random, start: dt.date, days: int, scale: Scale, world: World) -> None:
        self.rng, self.start, self.days, self.scale, self.world = rng, start, days, scale, world
        self.skills = skill_ensure_standard()

    def run_day(self, low: int = 1, high: int | None = None) -> dt.date:
        return self.start + dt.timedelta(days=self.rng.randint(low, max(low, high or self.days)))

    def near(self, centre: tuple[float, float], km: float = 6.0) -> tuple[float, float]:
        # About 111 km a degree of latitude; close enough for a city.
        spread = km / 111.0
        return (
            round(centre[0] + self.rng.uniform(-spread, spread), 6),
            round(centre[1] + self.rng.uniform(-spread, spread) * 1.4, 6),
        )

    def marker(self, kind: str, agency: int, patient_id: int) -> str:
        text = f"SIM{kind.upper()}{agency}x{patient_id}x{self.rng.randrange(10**6):06d}"
        self.world.markers[text] = (kind, patient_id)
        return text

    def user(self, agency: int, org: m.Organization, username: str, role: str, facility=None) -> m.User:
        user = m.User(username=username, organization=org, role=role, facility=facility, email=f"{username}@sim.test")
        user.set_password(PASSWORD)
        user.full_clean()
        user.save()
        return user


def generate_world(*, seed: int, agencies: int, days: int, start: dt.date, scale: Scale) -> World:
    """2-4 agencies with therapists, facilities of every care setting, staff and patients."""
    assert 1 <= agencies <= len(PLACES), f"agencies must be between 1 and {len(PLACES)}"
    rng = random.Random(f"world-{seed}")
    world = World(seed=seed, start=start, days=days, agencies=[])
    b = _Builder(rng=rng, start=start, days=days, scale=scale, world=world)
    for index in range(agencies):
        world.agencies.append(_agency(b, index, seed))
    return world


def _agency(b: _Builder, index: int, seed: int) -> Agency:
    zone, lat, lon = PLACES[index]
    slug = f"sim-{seed}-{index}"
    org = m.Organization(name=f"Simulated agency {index} (seed {seed})", slug=slug, timezone=zone)
    org.full_clean()
    org.save()
    coordinator = b.user(index, org, f"{slug}-coordinator", m.Role.COORDINATOR)
    agency = Agency(
        index=index,
        organization_id=org.pk,
        slug=slug,
        timezone=zone,
        centre=(lat, lon),
        coordinator=Person(coordinator.username, m.Role.COORDINATOR, index, coordinator.pk),
    )
    credentials = _facilities(b, org, agency)
    therapists = _therapists(b, org, agency, credentials)
    _patients(b, org, agency, therapists)
    return agency


def _facilities(b: _Builder, org: m.Organization, agency: Agency) -> list[m.CredentialType]:
    credentials = []
    for n, (kind, overhead, buffer, hours) in enumerate(FACILITY_KINDS):
        lat, lon = b.near(agency.centre)
        facility = m.Facility(
            organization=org,
            name=f"{kind.label} {agency.index}-{n}",
            kind=kind,
            address=f"{100 + n} Sim Street",
            lat=lat,
            lon=lon,
            checkin_overhead_min=overhead,
            default_buffer_min=buffer,
            visiting_hours_start=_t(hours[0]) if hours else None,
            visiting_hours_end=_t(hours[1]) if hours else None,
        )
        facility.full_clean()
        facility.save()
        if kind == m.CareSetting.HOSPITAL:
            credential = m.CredentialType.objects.create(
                organization=org, code=f"{agency.slug}-hospital-{n}", name=f"Hospital {n} credentialing"
            )
            facility.required_credentials.add(credential)
            credentials.append(credential)
        agency.facility_ids.append(facility.pk)
        # Two desks at the hospital, one elsewhere: colleagues share a facility's visits.
        for desk in range(2 if kind == m.CareSetting.HOSPITAL else 1):
            staff = b.user(agency.index, org, f"{agency.slug}-staff-{n}-{desk}", m.Role.FACILITY_STAFF, facility)
            agency.staff.append(
                Person(staff.username, m.Role.FACILITY_STAFF, agency.index, staff.pk, facility_id=facility.pk)
            )
    return credentials


def _therapists(b: _Builder, org: m.Organization, agency: Agency, credentials) -> list[m.Therapist]:
    rng = b.rng
    therapists = []
    skill_codes = sorted(b.skills)
    for n in range(b.scale.therapists):
        user = b.user(agency.index, org, f"{agency.slug}-therapist-{n}", m.Role.THERAPIST)
        lat, lon = b.near(agency.centre, km=8)
        languages = ["en"] + rng.sample(LANGUAGES, k=rng.choice((0, 0, 1, 2)))
        therapist = m.Therapist(
            organization=org,
            user=user,
            display_name=f"{rng.choice(FIRST)} {rng.choice(LAST)} {agency.index}{n}",
            home_address=f"{n} Home Road",
            home_lat=lat,
            home_lon=lon,
            languages=languages,
            gender=rng.choice([m.Gender.FEMALE, m.Gender.FEMALE, m.Gender.MALE, m.Gender.NONBINARY]),
            max_visits_per_day=rng.choice((5, 6, 8, 10)),
            max_working_minutes_per_day=rng.choice((300, 420, 480)),
            speed_profile=rng.choices(list(SPEEDS), weights=list(SPEEDS.values()))[0],
        )
        therapist.full_clean()
        therapist.save()
        # Everyone does palliative work; the rest varies.
        codes = {"palliative", *rng.sample(skill_codes, k=rng.randint(2, 5))}
        therapist.skills.set(b.skills[c] for c in codes)
        weekdays, periods, daily_break = SHIFT_PATTERNS[(agency.index + n) % len(SHIFT_PATTERNS)]
        for weekday in weekdays:
            for start, end in periods:
                m.WeeklyAvailability.objects.create(
                    therapist=therapist, weekday=weekday, start_time=_t(start), end_time=_t(end)
                )
        if daily_break:
            m.TherapistBreak.objects.create(
                therapist=therapist,
                earliest_start=_t(daily_break[0]),
                latest_start=_t(daily_break[1]),
                duration_min=daily_break[2],
            )
        if "hospital-based" in codes or rng.random() < 0.7:
            for credential in credentials:
                # Some credentials lapse during the run: from then on that hospital is not theirs.
                lapses = rng.random() < 0.35
                expires = b.run_day(1) if lapses else b.start + dt.timedelta(days=400)
                m.TherapistCredential.objects.create(
                    therapist=therapist, credential_type=credential, expires_on=expires
                )
        # About one day off a fortnight beside the weekly pattern.
        for day in range(1, b.days + 1):
            if rng.random() < 0.07:
                m.AvailabilityException.objects.create(
                    therapist=therapist,
                    date=b.start + dt.timedelta(days=day),
                    kind=m.ExceptionKind.TIME_OFF,
                    note="Day off",
                )
        if rng.random() < 0.4:
            m.AvailabilityException.objects.create(
                therapist=therapist,
                date=b.run_day(1),
                kind=m.ExceptionKind.TIME_OFF,
                start_time=_t("12:00"),
                end_time=_t("14:30"),
                note="Appointment",
            )
        if rng.random() < 0.4:
            m.AvailabilityException.objects.create(
                therapist=therapist,
                date=b.run_day(1),
                kind=m.ExceptionKind.EXTRA_SHIFT,
                start_time=_t("16:00"),
                end_time=_t("19:00"),
                note="Covering",
            )
        agency.therapists.append(
            Person(user.username, m.Role.THERAPIST, agency.index, user.pk, therapist_id=therapist.pk)
        )
        therapists.append(therapist)
    return therapists


def _patients(b: _Builder, org: m.Organization, agency: Agency, therapists: list[m.Therapist]) -> None:
    places: list[m.Facility | None] = [None] * b.scale.home_patients
    for facility in m.Facility.objects.filter(organization=org).order_by("pk"):
        places += [facility] * b.scale.patients_per_facility
    for number, facility in enumerate(places):
        patient = _patient(b, org, agency, therapists, facility, number)
        if facility is None:
            agency.home_patient_ids.append(patient.pk)
        else:
            agency.facility_patient_ids.setdefault(facility.pk, []).append(patient.pk)


def _patient(b: _Builder, org, agency: Agency, therapists, facility: m.Facility | None, number: int) -> m.Patient:
    rng = b.rng
    lat, lon = b.near(agency.centre) if facility is None else (None, None)
    patient = m.Patient(
        organization=org,
        facility=facility,
        first_name=rng.choice(FIRST),
        last_name=rng.choice(LAST),
        phone=f"555-01{number:02d}",
        address=f"{10 + number} Patient Lane" if facility is None else "",
        lat=lat,
        lon=lon,
        room=str(rng.randint(100, 499)) if facility else "",
        bed=rng.choice(("A", "B", "")),
        preferred_therapist_gender=rng.choice([""] * 14 + [m.Gender.FEMALE, m.Gender.MALE]),
        language=rng.choice([""] * 18 + list(LANGUAGES[:2])),
        referral_date=b.start - dt.timedelta(days=rng.randint(5, 60)),
        # Some referrals and authorisations run out during the run.
        referral_expires=b.run_day(2) if rng.random() < 0.2 else b.start + dt.timedelta(days=200),
        units_authorized=rng.choice((None, 4, 12, 40)),
        units_used=0,
    )
    patient.save()
    patient.diagnosis = b.marker("dx", agency.index, patient.pk)
    patient.referring_clinician = b.marker("ref", agency.index, patient.pk)
    patient.payer = b.marker("payer", agency.index, patient.pk)
    patient.access_notes = b.marker("access", agency.index, patient.pk)
    patient.full_clean()
    patient.save()
    if rng.random() < 0.15:
        patient.preferred_therapists.set(rng.sample(therapists, k=1))
    if rng.random() < 0.1:
        patient.excluded_therapists.set(rng.sample(therapists, k=1))
    if rng.random() < 0.6:
        m.Precaution.objects.create(
            patient=patient,
            kind=rng.choice(list(m.PrecautionKind)),
            body_site="left arm",
            note=b.marker("precaution", agency.index, patient.pk),
        )
    if rng.random() < 0.12:
        # A contraindication that starts and (mostly) ends during the run.
        begins = b.run_day(1)
        ends = begins + dt.timedelta(days=rng.randint(0, 3)) if rng.random() < 0.8 else None
        m.Contraindication.objects.create(
            patient=patient,
            kind=rng.choice(list(m.ContraindicationKind)),
            active_from=begins,
            active_until=ends,
            note=b.marker("contra", agency.index, patient.pk),
        )
    return patient
