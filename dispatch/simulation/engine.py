"""The run: simulated days, minute by minute, each event one step, every invariant after every step.

Events sit in a heap by simulated minute; the clock jumps to the next one (nothing happens in the
minutes between). What users do each day is drawn from the seed when the day starts in their
agency's time zone; what therapists do about each visit is drawn when they first see it on
their schedule, and redrawn when a re-plan moves it.
"""

from __future__ import annotations

import datetime as dt
import heapq
import itertools
import random
import zoneinfo
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from dispatch.models import Visit
from dispatch.simulation import feeds
from dispatch.simulation.actors import Coordinator, FacilityStaff, Therapist
from dispatch.simulation.clock import SimClock
from dispatch.simulation.generate import PASSWORD, Agency, Scale, generate_world
from dispatch.simulation.invariants import Invariants
from dispatch.simulation.record import Recorder

FIRST_DAY = dt.date(2030, 1, 7)  # a Monday; the seed moves the start through the year (DST changes included)
# Calendar apps refresh a subscription every few hours; changed ones are also polled after each change.
FEED_REFRESH_HOURS = (7, 13, 20)


@dataclass(order=True)
class Event:
    at: dt.datetime
    order: int
    label: str = field(compare=False)
    action: Callable[[], None] = field(compare=False)
    agency: int | None = field(compare=False, default=None)


@dataclass
class Cast:
    coordinator: Coordinator
    therapists: list[Therapist]
    staff: list[FacilityStaff]
    feeds: list[feeds.Feed]


class Simulation:
    def __init__(
        self, *, seed: int, days: int, agencies: int, scale: Scale | None = None, until_step: int | None = None
    ) -> None:
        assert days >= 1, "simulate at least one day"
        self.seed, self.days, self.until_step = seed, days, until_step
        self.agency_count = agencies
        self.scale = scale or Scale.full()
        self.rng = random.Random(f"run-{seed}")
        # Moves added after seeds were kept as regressions draw from their own stream, so the runs' other draws stay.
        self.units_rng = random.Random(f"units-{seed}")
        self.start = FIRST_DAY + dt.timedelta(days=self.rng.randrange(364))
        self.last_day = self.start + dt.timedelta(days=days)
        self.recorder = Recorder(seed=seed)
        self.invariants = Invariants(self)
        self.writes: Counter = Counter()
        self.written: set[int] = set()
        self.early_check_ins: set[tuple[int, dt.date]] = set()
        self.queue: list[Event] = []
        self.order = itertools.count()
        self.casts: list[Cast] = []

    # Time and places

    def tz(self, agency: Agency) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(agency.timezone)

    def local(self, agency: Agency, day: dt.date, hhmm: str) -> dt.datetime:
        return dt.datetime.combine(day, dt.time.fromisoformat(hhmm), tzinfo=self.tz(agency)).astimezone(dt.UTC)

    def day_index(self, day: dt.date) -> int:
        return (day - self.start).days

    def days_left(self, day: dt.date) -> int:
        return (self.last_day - day).days

    def schedule(self, at: dt.datetime, action: Callable[[], None], label: str, agency: int | None = None) -> None:
        at = at.replace(second=0, microsecond=0)
        heapq.heappush(self.queue, Event(at, next(self.order), label, action, agency))

    # Who is who

    def note_write(self, agency: int) -> None:
        self.writes[agency] += 1
        self.written.add(agency)

    def coordinator_of(self, actor) -> Coordinator:
        return self.casts[actor.person.agency].coordinator

    def coordinator_actor(self, organization_id: int) -> Coordinator:
        return next(
            c.coordinator
            for c, a in zip(self.casts, self.world.agencies, strict=True)
            if a.organization_id == organization_id
        )

    def staff_of(self, facility_id: int) -> list[FacilityStaff]:
        return [s for cast in self.casts for s in cast.staff if s.person.facility_id == facility_id]

    def someone_elses_visit(self, actor) -> int | None:
        """A visit the actor must not see: another facility's, or another agency's."""
        visits = Visit.objects.exclude(facility_id=actor.person.facility_id).order_by("pk")
        ids = list(visits.values_list("pk", flat=True)[:200])
        return self.rng.choice(ids) if ids else None

    # The run

    def run(self) -> Recorder:
        first = self.local_from_world_start()
        with SimClock(first) as clock:
            self.clock = clock
            self.world = generate_world(
                seed=self.seed, agencies=self.agency_count, days=self.days, start=self.start, scale=self.scale
            )
            self._cast()
            for agency in self.world.agencies:
                self.schedule(
                    self.local(agency, self.start, "07:00"),
                    lambda a=agency: self._day(a, self.start),
                    f"day 0 starts in agency {agency.index}",
                    agency.index,
                )
            self._loop()
            self.recorder.begin_step(day=self.days, at=self.clock.now, label="final sweep")
            self.invariants.full_sweep(self._sweep_days(self.last_day))
        return self.recorder

    def local_from_world_start(self) -> dt.datetime:
        return dt.datetime.combine(self.start, dt.time(6, 0), tzinfo=dt.UTC)

    def _cast(self) -> None:
        self.recorder.begin_step(day=0, at=self.clock.now, label="sign in")
        self.invariants.begin_step()
        address = itertools.count(2)
        for agency in self.world.agencies:

            def make(cls, person, agency=agency):
                n = next(address)
                actor = cls(sim=self, person=person, address=f"10.{agency.index}.{n // 250}.{n % 250 + 1}")
                actor.login(PASSWORD)
                return actor

            coordinator = make(Coordinator, agency.coordinator)
            therapists = [make(Therapist, p) for p in agency.therapists]
            staff = [make(FacilityStaff, p) for p in agency.staff]
            cast = Cast(coordinator, therapists, staff, [])
            for actor in (coordinator, *therapists, *staff):
                actor.setup()
            for therapist in therapists:
                cast.feeds.append(feeds.Feed("therapist", therapist.person.therapist_id, agency.index, therapist))
            for facility_id in agency.facility_ids:
                cast.feeds.append(feeds.Feed("facility", facility_id, agency.index, self_staff(staff, facility_id)))
            for feed in cast.feeds:
                feeds.subscribe(feed)
            self.casts.append(cast)
        self.invariants.after_step()

    def _loop(self) -> None:
        end = max(self.local(a, self.last_day, "23:59") for a in self.world.agencies)
        while self.queue:
            event = heapq.heappop(self.queue)
            if event.at > end:
                break
            if self.until_step is not None and self.recorder.step >= self.until_step:
                break
            self.clock.move_to(max(event.at, self.clock.now))
            local_day = self.clock.now.astimezone(self.tz(self.world.agencies[event.agency or 0])).date()
            self.recorder.begin_step(day=self.day_index(local_day), at=self.clock.now, label=event.label)
            self.invariants.begin_step()
            self.written = set()
            event.action()
            self._after_step()

    def _after_step(self) -> None:
        owners = self.invariants.after_step()
        # Every calendar whose visits changed is polled at once; the others on their next refresh.
        for agency in sorted(self.written):
            self.poll_feeds(agency, owners=owners)

    def poll_feeds(self, agency: int, *, owners: set[tuple[str, int]] | None = None) -> None:
        for feed in self.casts[agency].feeds:
            if owners is not None and (feed.owner, feed.owner_id) not in owners:
                continue
            _, problems = feeds.poll(feed)
            self.invariants.feed(feed, problems)

    # One day in one agency

    def _day(self, agency: Agency, day: dt.date) -> None:
        d, cast, rng = self.day_index(day), self.casts[agency.index], self.rng
        at = lambda hhmm: self.local(agency, day, hhmm)  # noqa: E731
        later = lambda hhmm, action, label: self.schedule(at(hhmm), action, label, agency.index)  # noqa: E731
        working = [t for t in cast.therapists if not t.retired]
        if d >= 1:
            for n, therapist in enumerate(working):
                later(
                    f"06:{30 + n:02d}", lambda t=therapist: t.look(day, force=True), f"{therapist.name} reads the day"
                )
                for hour in range(7, 20, 2):
                    later(
                        f"{hour:02d}:{(7 * n) % 60:02d}", lambda t=therapist: t.look(day), f"{therapist.name} glances"
                    )
        minutes = sorted(rng.randint(8 * 60, 16 * 60 + 30) for _ in range(self.scale.requests_per_day))
        for minute in minutes:
            staff = rng.choice(cast.staff)
            later(f"{minute // 60:02d}:{minute % 60:02d}", lambda s=staff: s.request(day), f"{staff.name} requests")
        for _ in range(2):
            staff, minute = rng.choice(cast.staff), rng.randint(9 * 60, 16 * 60)
            later(
                f"{minute // 60:02d}:{minute % 60:02d}",
                lambda s=staff: s.change_or_cancel(day),
                f"{staff.name} changes a request",
            )
        if rng.random() < 0.7:
            staff = rng.choice(cast.staff)
            later("10:10", lambda s=staff: s.bad_input(day), f"{staff.name} makes a mistake")
        if rng.random() < 0.3:
            staff = rng.choice(cast.staff)
            later("14:10", lambda s=staff: s.wrong_doors(), f"{staff.name} opens wrong doors")
        later("08:30", lambda: cast.coordinator.home_requests(day), "coordinator requests home visits")
        if rng.random() < 0.15:
            later("09:15", lambda: cast.coordinator.record_contraindication(day), "coordinator records a fever")
        if self.units_rng.random() < 0.3:
            later("09:40", lambda: cast.coordinator.lower_units(day), "coordinator records fewer authorised units")
        if d >= 1 and rng.random() < 0.35:
            later("11:00", lambda: self._urgent(agency, day), "coordinator books an urgent visit and re-plans")
        if day < self.last_day:
            tomorrow = day + dt.timedelta(days=1)
            later("18:00", lambda: self._plan(agency, tomorrow, "18:04"), f"coordinator plans {tomorrow}")
            later("18:30", lambda: cast.coordinator.adjust(tomorrow), "coordinator adjusts tomorrow")
            if rng.random() < 0.15:
                later("20:30", lambda: cast.coordinator.record_sick_day(tomorrow), "a therapist calls in sick")
                later("20:40", lambda: self._plan(agency, tomorrow, "20:44"), f"coordinator re-plans {tomorrow}")
            for therapist in working:
                later("19:30", lambda t=therapist: t.confirm(tomorrow), f"{therapist.name} confirms tomorrow")
            self._probes(agency, day, tomorrow, working)
        later("12:30", lambda: self._scope_sweep(agency), "every role lists what it sees")
        for hour in FEED_REFRESH_HOURS:
            later(f"{hour:02d}:45", lambda: self.poll_feeds(agency.index), "calendars refresh")
        if agency.index == 0:
            later("23:30", lambda: self.invariants.full_sweep(self._sweep_days(day)), "nightly full check")
        if day < self.last_day:
            nxt = day + dt.timedelta(days=1)
            self.schedule(
                self.local(agency, nxt, "06:00"),
                lambda: self._day(agency, nxt),
                f"day {d + 1} starts in agency {agency.index}",
                agency.index,
            )

    def _probes(self, agency: Agency, day: dt.date, tomorrow: dt.date, working: list[Therapist]) -> None:
        d, cast = self.day_index(day), self.casts[agency.index]
        if agency.index == 0 and d == 1 and working:
            self.schedule(
                self.local(agency, day, "06:50"),
                lambda: any(t.check_in_with_a_clock_ahead(day) for t in working),  # the first with a visit ahead
                "a therapist checks in from a phone whose clock is fast",
                agency.index,
            )
        if agency.index == 0 and d == min(2, self.days - 1) and working:
            therapist = working[0]
            self.schedule(
                self.local(agency, day, "18:45"),
                lambda: therapist.check_in_a_day_early(tomorrow),
                f"{therapist.name} checks in a day early",
                agency.index,
            )
            self.schedule(
                self.local(agency, day, "19:00"),
                lambda: self._plan(agency, tomorrow, "19:04"),
                f"coordinator plans {tomorrow} again",
                agency.index,
            )
        if agency.index == 0 and d == max(1, self.days // 2) and len(working) > 2:
            leaver = working[-1]
            self.schedule(
                self.local(agency, day, "20:00"),
                lambda: cast.coordinator.deactivate(leaver),
                f"coordinator deactivates {leaver.name}",
                agency.index,
            )
            self.schedule(
                self.local(agency, day, "20:05"),
                lambda: self._plan(agency, tomorrow, "20:09"),
                f"coordinator re-plans {tomorrow} without the leaver",
                agency.index,
            )

    def _plan(self, agency: Agency, day: dt.date, apply_at: str) -> None:
        run = self.casts[agency.index].coordinator.plan(day)
        if run is None or run.get("status") != "succeeded":
            return
        # Written here (the plan itself); any write after this one makes the plan stale, legitimately.
        mark = self.writes[agency.index]
        self.schedule(
            self.local(agency, day - dt.timedelta(days=1), apply_at),
            lambda: self._apply(agency, run, mark),
            f"coordinator applies plan {run['id']}",
            agency.index,
        )

    def _apply(self, agency: Agency, run: dict, mark: int) -> None:
        coordinator = self.casts[agency.index].coordinator
        fresh = self.writes[agency.index] <= mark
        if not coordinator.apply(run, fresh=fresh) and not fresh:
            self.recorder.counters["stale plans planned again"] += 1
            day = dt.date.fromisoformat(run["date"])
            again = coordinator.plan(day)
            if again and again.get("status") == "succeeded":
                coordinator.apply(again, fresh=True)

    def _urgent(self, agency: Agency, day: dt.date) -> None:
        coordinator = self.casts[agency.index].coordinator
        coordinator.request_visit(
            patient=self.rng.choice(coordinator.home_patients),
            day=day,
            urgent=True,
            after=self.clock.now + dt.timedelta(minutes=90),
        )
        run = coordinator.replan_today()
        if run is not None:
            self.schedule(
                self.clock.now + dt.timedelta(minutes=3),
                lambda: coordinator.review_replan(run),
                f"coordinator reviews re-plan {run['id']}",
                agency.index,
            )

    def _scope_sweep(self, agency: Agency) -> None:
        cast = self.casts[agency.index]
        today = self.clock.now.astimezone(self.tz(agency)).date()
        span = f"date_from={today - dt.timedelta(days=1)}&date_to={today + dt.timedelta(days=3)}&page_size=200"
        for actor in (cast.coordinator, *cast.staff, *cast.therapists):
            if actor.retired:
                continue
            visits = actor.pages(f"/api/v1/visits?{span}")
            patients = actor.pages("/api/v1/patients?page_size=200")
            self.invariants.scope(actor, visits, patients)

    def _sweep_days(self, day: dt.date) -> list[dt.date]:
        return [day + dt.timedelta(days=n) for n in range(-1, 6)]


def self_staff(staff: list[FacilityStaff], facility_id: int) -> FacilityStaff:
    return next(s for s in staff if s.person.facility_id == facility_id)
