from __future__ import annotations

import datetime as dt
import zoneinfo

import factory
import time_machine
from django.utils import timezone
from factory.django import DjangoModelFactory
from faker import Faker

from dispatch import models as m
from dispatch.skills import skill_ensure_standard

faker = Faker()
TORONTO = zoneinfo.ZoneInfo("America/Toronto")


def tomorrow() -> dt.date:
    return timezone.localdate(timezone=TORONTO) + dt.timedelta(days=1)


def local(day: dt.date, hhmm: str) -> dt.datetime:
    hour, minute = (int(x) for x in hhmm.split(":"))
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=TORONTO)


def rename_unseen(therapists) -> None:
    """Rename past the signals that move cache versions: a cached part built again shows the new name, one served
    from the cache the old, so a test can tell which parts a read rebuilt."""
    m.Therapist.objects.filter(pk__in=[t.pk for t in therapists]).update(display_name="Renamed unseen")


def clock_at(moment: dt.datetime) -> time_machine.travel:
    """A still clock at ``moment``: an action sent with ``at`` then happens when it says, as from a phone online."""
    return time_machine.travel(moment, tick=False)


class OrganizationFactory(DjangoModelFactory):
    class Meta:
        model = m.Organization

    name = factory.Sequence(lambda n: f"Comfort Care {n}")
    slug = factory.Sequence(lambda n: f"comfort-care-{n}")
    timezone = "America/Toronto"


class UserFactory(DjangoModelFactory):
    class Meta:
        model = m.User
        skip_postgeneration_save = True

    username = factory.LazyAttribute(lambda _: faker.unique.user_name())
    email = factory.LazyAttribute(lambda _: faker.unique.email())
    organization = factory.SubFactory(OrganizationFactory)
    role = m.Role.COORDINATOR
    password = factory.django.Password("pw-rounds-test")


class CredentialTypeFactory(DjangoModelFactory):
    class Meta:
        model = m.CredentialType

    organization = factory.SubFactory(OrganizationFactory)
    code = factory.Sequence(lambda n: f"cred-{n}")
    name = factory.Sequence(lambda n: f"Credential {n}")


class FacilityFactory(DjangoModelFactory):
    class Meta:
        model = m.Facility

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"St. Example Hospital {n}")
    kind = m.CareSetting.HOSPITAL
    address = factory.LazyAttribute(lambda _: faker.street_address())
    lat = factory.Faker("pyfloat", min_value=43.64, max_value=43.72)
    lon = factory.Faker("pyfloat", min_value=-79.45, max_value=-79.35)
    checkin_overhead_min = 10


class TherapistFactory(DjangoModelFactory):
    class Meta:
        model = m.Therapist
        skip_postgeneration_save = True

    organization = factory.SubFactory(OrganizationFactory)
    user = factory.SubFactory(
        UserFactory, organization=factory.SelfAttribute("..organization"), role=m.Role.THERAPIST
    )
    display_name = factory.LazyAttribute(lambda _: faker.name())
    home_address = factory.LazyAttribute(lambda _: faker.street_address())
    home_lat = factory.Faker("pyfloat", min_value=43.64, max_value=43.72)
    home_lon = factory.Faker("pyfloat", min_value=-79.45, max_value=-79.35)
    languages = ["en"]

    @factory.post_generation
    def skills(self, create: bool, extracted: list[str] | None, **kwargs) -> None:
        if create and extracted:
            self.skills.set(skill_ensure_standard()[code] for code in extracted)

    @factory.post_generation
    def weekdays(self, create: bool, extracted: bool | None, **kwargs) -> None:
        """Every therapist works 08:00-17:00 every day unless told otherwise."""
        if create and extracted is not False:
            m.WeeklyAvailability.objects.bulk_create(
                m.WeeklyAvailability(therapist=self, weekday=d, start_time=dt.time(8), end_time=dt.time(17))
                for d in range(7)
            )


class FacilityStaffFactory(UserFactory):
    role = m.Role.FACILITY_STAFF
    facility = factory.SubFactory(FacilityFactory, organization=factory.SelfAttribute("..organization"))


class PatientFactory(DjangoModelFactory):
    class Meta:
        model = m.Patient

    organization = factory.SubFactory(OrganizationFactory)
    facility = None
    first_name = factory.LazyAttribute(lambda _: faker.first_name())
    last_name = factory.LazyAttribute(lambda _: faker.last_name())
    address = factory.LazyAttribute(lambda _: faker.street_address())
    lat = factory.Faker("pyfloat", min_value=43.64, max_value=43.72)
    lon = factory.Faker("pyfloat", min_value=-79.45, max_value=-79.35)
    diagnosis = "Metastatic breast cancer"
    referring_clinician = "Dr. A. Okafor"


class VisitFactory(DjangoModelFactory):
    """A requested visit tomorrow with one 09:00-12:00 window, placed where its patient is."""

    class Meta:
        model = m.Visit
        skip_postgeneration_save = True

    organization = factory.SubFactory(OrganizationFactory)
    patient = factory.SubFactory(PatientFactory, organization=factory.SelfAttribute("..organization"))
    facility = factory.LazyAttribute(lambda o: o.patient.facility)
    location_text = factory.LazyAttribute(
        lambda o: o.patient.facility.name if o.patient.facility else o.patient.address
    )
    lat = factory.LazyAttribute(lambda o: o.patient.facility.lat if o.patient.facility else o.patient.lat)
    lon = factory.LazyAttribute(lambda o: o.patient.facility.lon if o.patient.facility else o.patient.lon)
    date = factory.LazyFunction(tomorrow)
    duration_min = 30

    @factory.post_generation
    def windows(self, create: bool, extracted: list[tuple[str, str]] | None, **kwargs) -> None:
        if create:
            for start, end in extracted or [("09:00", "12:00")]:
                m.VisitWindow.objects.create(visit=self, start=local(self.date, start), end=local(self.date, end))
