"""What users rely on, checked after every step against the database and what the API and feeds said.

The checks read the database directly: they are the referee, not a user. Rules are written from the
product's promises (README, issue 13), not copied from the code they check; where a rule has one
definition in the project (a therapist's shifts), that definition is used.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING, Any

from django.utils import timezone

import optimizer
from dispatch.lifecycle import can_transition
from dispatch.models import ASSIGNED_STATUSES, Therapist, Visit, VisitStatus
from dispatch.services.booking import therapist_shifts_on
from dispatch.travel import travel_provider
from optimizer.model_data import ceil_min

if TYPE_CHECKING:
    from dispatch.simulation.engine import Simulation
    from dispatch.simulation.feeds import Feed
    from dispatch.simulation.generate import Agency

FIELDS = [f.attname for f in Visit._meta.concrete_fields]
AUDITED = [name for name in FIELDS if name != "updated_at"]  # the history leaves updated_at out
BOOKED = (VisitStatus.SCHEDULED, VisitStatus.CONFIRMED)
UNIT_HOLDING = (VisitStatus.SCHEDULED, VisitStatus.CONFIRMED, VisitStatus.IN_PROGRESS)
GONE = (VisitStatus.REQUESTED, VisitStatus.CANCELLED, VisitStatus.NO_SHOW)
# A feed shows these visits for certain; cancelled ones for a while.
IN_FEED = (*ASSIGNED_STATUSES, VisitStatus.NO_SHOW)
FEED_PAST_DAYS, FEED_FUTURE_DAYS = 14, 60
ICAL_CANCELLED = "CANCELLED"
UID = re.compile(r"^(visit|travel)-(\d+)@(.+)\.rounds$")
INTAKE = ("dx", "ref", "payer", "contra")
# Apply unbooked only scheduled visits a plan left out, keeping confirmed ones booked against the diff;
# issue 11's apply (drop_booked) unbooks every booked visit it leaves out.
UNBOOKED_CONFIRMED = "issue 11 item 1"
PLAN_FAILURES = (
    ("unknown therapist id", "issue 11 item 2"),
    ("overlap", "issue 11 item 3"),
    # A 0.5 s re-plan on a loaded machine found no first plan; issue 15's optimiser gives the fallback time.
    ("found no plan within", "issue 15 (first plan under load)"),
)


def _to_second(moment: dt.datetime) -> dt.datetime:
    # iCalendar times have whole seconds; a check-in at 10:02:07.4 is 10:02:07 in every calendar.
    return moment.replace(microsecond=0)


class Invariants:
    def __init__(self, sim: Simulation) -> None:
        self.sim = sim
        self.recorder = sim.recorder
        self.mirror: dict[int, dict[str, Any]] = {}
        self.last_history_id = 0
        self.history_state: dict[int, tuple[str, int]] = {}
        self.max_sequence: dict[str, int] = {}
        self.uid_of: dict[int, str] = {}
        self.step_started: dt.datetime | None = None
        self.pushed: set[tuple[int, str]] = set()

    def fail(self, invariant: str, message: str, **kwargs) -> None:
        self.recorder.fail(invariant, message, **kwargs)

    # After every step: what changed, its history, and the days of the therapists it touched

    def begin_step(self) -> None:
        self.step_started = self.sim.clock.now

    def after_step(self) -> set[tuple[str, int]]:
        """Check what this step changed; return the feeds ("therapist"/"facility", id) whose visits it touched."""
        new_history = list(
            Visit.history.filter(history_id__gt=self.last_history_id)
            .order_by("history_id")
            .values("history_id", "history_type", *AUDITED)
        )
        if new_history:
            self.last_history_id = new_history[-1]["history_id"]
        touched = {row["id"] for row in new_history}
        touched |= set(Visit.objects.filter(updated_at__gte=self.step_started).values_list("pk", flat=True))
        if not touched:
            return set()
        rows = {row["id"]: row for row in Visit.objects.filter(pk__in=touched).values(*FIELDS)}
        self._history(new_history, rows, touched)
        days: set[tuple[int, dt.date]] = set()
        owners: set[tuple[str, int]] = set()
        for visit_id in sorted(touched):
            before, after = self.mirror.get(visit_id), rows.get(visit_id)
            self._kept(visit_id, before, after)
            for state in (before, after):
                if state and state["therapist_id"] and state["status"] in ASSIGNED_STATUSES:
                    days.add((state["therapist_id"], state["date"]))
                if state:
                    owners |= {("therapist", state["therapist_id"]), ("facility", state["facility_id"])}
            if after is not None:
                self.mirror[visit_id] = after
            else:
                self.mirror.pop(visit_id, None)
        for therapist_id, day in sorted(days):
            self.therapist_day(therapist_id, day)
        return owners

    def _history(self, new_history: list[dict], rows: dict[int, dict], touched: set[int]) -> None:
        """Each visit's audit trail follows the lifecycle and ends exactly at the row as it is."""
        latest: dict[int, dict] = {}
        for record in new_history:
            visit_id = record["id"]
            previous = self.history_state.get(visit_id)
            if previous is not None:
                status, sequence = previous
                if record["status"] != status and not can_transition(status, record["status"]):
                    self.fail(
                        "history_replays",
                        f"visit {visit_id}'s history goes {status} -> {record['status']}",
                        key=(visit_id, status, record["status"]),
                        ids=(visit_id,),
                    )
                if record["sequence"] < sequence:
                    self.fail(
                        "history_replays",
                        f"visit {visit_id}'s sequence falls {sequence} -> {record['sequence']}",
                        key=(visit_id, "sequence"),
                        ids=(visit_id,),
                    )
            elif record["history_type"] != "+":
                self.fail(
                    "history_replays",
                    f"visit {visit_id}'s history does not begin with its creation",
                    key=(visit_id, "creation"),
                    ids=(visit_id,),
                )
            self.history_state[visit_id] = (record["status"], record["sequence"])
            latest[visit_id] = record
        for visit_id in sorted(touched):
            row = rows.get(visit_id)
            record = latest.get(visit_id)
            if row is None:
                if record is None or record["history_type"] != "-":
                    self.fail(
                        "history_replays",
                        f"visit {visit_id} vanished without a deletion in its history",
                        key=(visit_id, "vanished"),
                        ids=(visit_id,),
                    )
                continue
            if record is None:
                record = Visit.history.filter(id=visit_id).order_by("-history_id").values(*AUDITED).first()
            differs = [name for name in AUDITED if record is None or record[name] != row[name]]
            if differs:
                self.fail(
                    "history_replays",
                    f"visit {visit_id} differs from its last history record in {differs}",
                    key=(visit_id, tuple(differs)),
                    ids=(visit_id,),
                )

    def _kept(self, visit_id: int, before: dict | None, after: dict | None) -> None:
        """A booked visit leaves a therapist's day only by a status change with a reason both sides can read."""
        if before is None or before["status"] not in BOOKED:
            return
        if after is None:
            self.fail("booked_visits_kept", f"booked visit {visit_id} was deleted", ids=(visit_id,))
            return
        if after["status"] not in GONE:
            return
        if not after["status_reason"].strip():
            self.fail(
                "booked_visits_kept",
                f"visit {visit_id} went {before['status']} -> {after['status']} without a reason",
                key=(visit_id, after["status"]),
                ids=(visit_id,),
            )
            return
        readers = [self.sim.coordinator_actor(before["organization_id"])]
        if after["facility_id"]:
            readers += self.sim.staff_of(after["facility_id"])[:1]
        for reader in readers:
            reply = reader.call("GET", f"/api/v1/visits/{visit_id}")
            if not reply.ok or reply.data.get("status_reason") != after["status_reason"]:
                self.fail(
                    "booked_visits_kept",
                    f"{reader.role} cannot read why visit {visit_id} is {after['status']} ({reply.status})",
                    key=(visit_id, reader.role),
                    ids=(visit_id,),
                )

    # A therapist's day: no overlap, travel between stops, windows, shifts, credentials and skills

    def therapist_day(self, therapist_id: int, day: dt.date) -> None:
        therapist = (
            Therapist.objects.select_related("organization")
            .prefetch_related("skills", "credentials", "weekly_availability", "availability_exceptions")
            .get(pk=therapist_id)
        )
        visits = list(
            Visit.objects.filter(therapist_id=therapist_id, date=day, status__in=ASSIGNED_STATUSES)
            .select_related("facility", "patient")
            .prefetch_related(
                "windows", "required_skills", "facility__required_credentials", "patient__excluded_therapists"
            )
            .order_by("planned_start", "id")
        )
        if not visits:
            return
        travel = travel_provider(locations=[optimizer.Location(v.lat, v.lon) for v in visits])
        tz = therapist.organization.tz
        # A visit checked in on another day than its own is issue 11's: plans do not see it, booking does.
        early = {v.pk for v in visits if v.actual_start and v.actual_start.astimezone(tz).date() != v.date}
        for a, b in zip(visits, visits[1:], strict=False):
            known = "issue 11 item 4" if {a.pk, b.pk} & early else None
            if b.planned_start < a.planned_busy_until:
                self.fail(
                    "no_double_booking",
                    f"therapist {therapist_id} holds visit {a.pk} until {a.planned_busy_until.astimezone(tz):%H:%M} "
                    f"and visit {b.pk} from {b.planned_start.astimezone(tz):%H:%M} on {day}",
                    key=(a.pk, b.pk, a.planned_busy_until, b.planned_start),
                    ids=(a.pk, b.pk),
                    known=known,
                )
                continue
            if b.actual_start is not None:
                continue  # the therapist got there: a recorded check-in is what happened, not a plan to check
            if a.facility_id is not None and a.facility_id == b.facility_id:
                needed = 0  # same site: no travel and no second check-in
            else:
                leg = travel.travel_min(
                    optimizer.Location(a.lat, a.lon), optimizer.Location(b.lat, b.lon), therapist.speed_kmh
                )
                needed = ceil_min(leg) + (b.facility.checkin_overhead_min if b.facility_id else 0)
            gap = (b.planned_start - a.planned_busy_until).total_seconds() / 60
            if gap < needed:
                self.fail(
                    "travel_between_visits",
                    f"therapist {therapist_id} has {gap:.0f} min from visit {a.pk} (free "
                    f"{a.planned_busy_until.astimezone(tz):%H:%M}) to visit {b.pk} "
                    f"({b.planned_start.astimezone(tz):%H:%M}) on {day}; travel and check-in need {needed}",
                    key=(a.pk, b.pk, a.planned_busy_until, b.planned_start),
                    ids=(a.pk, b.pk),
                    known=known,
                )
        if not therapist.active and day >= timezone.localdate(timezone.now(), tz):
            # Switched off, they see no feed, app or plan: a visit still to come booked on them waits for nobody.
            for v in visits:
                if v.status in BOOKED:
                    self.fail(
                        "booked_visits_kept", f"visit {v.pk} on {day} is still booked on switched-off therapist "
                        f"{therapist_id}", key=(v.pk, "switched off"), ids=(v.pk,),
                    )
        shifts = therapist_shifts_on(therapist=therapist, day=day)
        skills = {s.code for s in therapist.skills.all()}
        for v in visits:
            if v.status in BOOKED:
                self._booked_rules(therapist, v, shifts, skills, tz)

    def _booked_rules(self, therapist: Therapist, v: Visit, shifts, skills: set[str], tz) -> None:
        at = f"{v.planned_start.astimezone(tz):%H:%M}-{v.planned_end.astimezone(tz):%H:%M} on {v.date}"
        key = (v.pk, v.therapist_id, v.planned_start)
        windows = list(v.windows.all())
        if not any(w.start <= v.planned_start and v.planned_end <= w.end for w in windows) and not self._pushed(
            v, "past its window"
        ):
            spans = ", ".join(f"{w.start.astimezone(tz):%H:%M}-{w.end.astimezone(tz):%H:%M}" for w in windows)
            self.fail(
                "booked_inside_windows", f"visit {v.pk} runs {at}, outside its windows {spans}", key=key, ids=(v.pk,)
            )
        door = v.facility.visiting_hours_on(v.date, tz) if v.facility_id else None
        if door and not (door[0] <= v.planned_start and v.planned_end <= door[1]) and not self._pushed(
            v, "past visiting hours"
        ):
            self.fail(
                "booked_inside_windows",
                f"visit {v.pk} runs {at}, outside {v.facility.name}'s visiting hours {door[0]:%H:%M}-{door[1]:%H:%M}",
                key=(*key, "visiting hours"), ids=(v.pk,),
            )
        if not any(s <= v.planned_start and v.planned_busy_until <= e for s, e in shifts) and not self._pushed(
            v, "past the shift's end"
        ):
            self.fail(
                "booked_inside_shift",
                f"visit {v.pk} holds therapist {therapist.pk} {at} until "
                f"{v.planned_busy_until.astimezone(tz):%H:%M}, outside their shifts",
                key=key,
                ids=(v.pk,),
            )
        if v.facility_id:
            held = {
                c.credential_type_id
                for c in therapist.credentials.all()
                if c.expires_on is None or c.expires_on >= v.date
            }
            missing = [c.code for c in v.facility.required_credentials.all() if c.pk not in held]
            if missing:
                self.fail(
                    "booked_with_credentials",
                    f"visit {v.pk} at {v.facility.name} {at} needs {missing}, "
                    f"which therapist {therapist.pk} does not hold then",
                    key=key,
                    ids=(v.pk,),
                )
        needed = {s.code for s in v.required_skills.all()} - skills
        if needed:
            self.fail(
                "booked_with_skills",
                f"visit {v.pk} needs {sorted(needed)}; therapist {therapist.pk} lacks them",
                key=key,
                ids=(v.pk,),
            )
        patient = v.patient
        # The planner holds a patient's gender and language needs as hard rules; a booking must too.
        if patient.preferred_therapist_gender not in ("", "unspecified") and (
            therapist.gender != patient.preferred_therapist_gender
        ):
            self.fail(
                "booked_meets_patient_needs",
                f"visit {v.pk} went to therapist {therapist.pk} "
                f"({therapist.gender}); the patient needs {patient.preferred_therapist_gender}",
                key=key,
                ids=(v.pk,),
            )
        if patient.language and patient.language not in therapist.languages:
            self.fail(
                "booked_meets_patient_needs",
                f"visit {v.pk} went to therapist {therapist.pk} "
                f"({therapist.languages}); the patient needs {patient.language}",
                key=key,
                ids=(v.pk,),
            )
        # A referral and a payer's authorisation bound what may be booked, by a plan or by hand.
        if not patient.referral_valid_on(v.date):
            self.fail(
                "booked_within_referral",
                f"visit {v.pk} is booked {at}; the patient's referral expired on {patient.referral_expires}",
                key=key,
                ids=(v.pk,),
            )
        if patient.units_authorized is not None:
            held = Visit.objects.filter(patient_id=patient.pk, status__in=UNIT_HOLDING).count()
            if patient.units_used + held > patient.units_authorized:
                self.fail(
                    "booked_within_units",
                    f"visit {v.pk} is booked {at}; patient {patient.pk} has {patient.units_authorized} units "
                    f"authorised, {patient.units_used} used and {held} booked",
                    key=(patient.pk, patient.units_used, held),
                    ids=(v.pk,),
                )
        if any(t.pk == therapist.pk for t in v.patient.excluded_therapists.all()):
            self.fail(
                "booked_respects_exclusions",
                f"visit {v.pk} went to therapist {therapist.pk}, whom the patient excluded",
                key=key,
                ids=(v.pk,),
            )

    def _pushed(self, v: Visit, what: str) -> bool:
        """Whether the visit's time was last set by a push (a session ran over), not by a plan or a booking.

        A session that runs long makes the next patient wait: that is the day as it is, which the schedule
        must show, not a booking decision. It is counted, not failed; travel and overlaps still hold.
        """
        setter = None
        for record in v.history.order_by("-history_id").values("planned_start", "history_change_reason"):
            if record["planned_start"] != v.planned_start:
                break
            setter = record
        if setter is None or not (setter["history_change_reason"] or "").startswith("pushed"):
            return False
        self.pushed.add((v.pk, what))
        self.recorder.counters[f"visits pushed {what} by a session running over"] = sum(
            1 for _, w in self.pushed if w == what
        )
        return True

    def full_sweep(self, days: list[dt.date]) -> None:
        """Every row against the mirror (a write without a history record shows here) and every day's schedule."""
        rows = {row["id"]: row for row in Visit.objects.values(*FIELDS)}
        for visit_id, row in rows.items():
            known = self.mirror.get(visit_id)
            if known is not None and any(known[n] != row[n] for n in AUDITED):
                self.fail(
                    "history_replays",
                    f"visit {visit_id} changed without a history record",
                    key=(visit_id, "unrecorded"),
                    ids=(visit_id,),
                )
        missing = set(self.mirror) - set(rows)
        for visit_id in sorted(missing):
            self.fail("booked_visits_kept", f"visit {visit_id} disappeared", key=(visit_id, "gone"), ids=(visit_id,))
        self.mirror = rows
        pairs = {
            (r["therapist_id"], r["date"])
            for r in rows.values()
            if r["therapist_id"] and r["status"] in ASSIGNED_STATUSES and r["date"] in days
        }
        for therapist_id, day in sorted(pairs):
            self.therapist_day(therapist_id, day)

    # Plans: they succeed, and applying one changes what it said and nothing else

    def visits_now(self, agency: Agency) -> dict[int, dict]:
        return {r["id"]: r for r in Visit.objects.filter(organization_id=agency.organization_id).values(*FIELDS)}

    def plan_finished(self, run: dict) -> None:
        if run.get("status") == "failed":
            known = next((label for needle, label in PLAN_FAILURES if needle in run.get("error", "")), None)
            self.fail(
                "plan_runs_succeed",
                f"plan {run['id']} ({run.get('kind')}, {run.get('date')}) failed: {run.get('error', '')[:300]}",
                key=(run["id"],),
                known=known,
            )
        elif run.get("status") not in ("succeeded", None):
            self.fail(
                "plan_runs_succeed",
                f"plan {run['id']} is still {run['status']} after its request returned",
                key=(run["id"],),
            )
        result = run.get("result") or {}
        if result.get("status") == "no_solution":
            self.fail(
                "plan_runs_succeed",
                f"plan {run['id']} succeeded without a solution",
                key=(run["id"], "none"),
                known="issue 11 item 1",
            )
        for item in result.get("unassigned", []):
            self.recorder.counters[f"left unassigned: {item['code']}"] += 1

    def fresh_plan_refused(self, run: dict, reply, *, agency: Agency) -> None:
        day = dt.date.fromisoformat(run["date"])
        known = "issue 11 item 4" if (agency.index, day) in self.sim.early_check_ins else None
        self.fail(
            "fresh_plan_applies",
            f"plan {run['id']} for {day}, applied with nothing changed since it ran, "
            f"was refused: {reply.status} {(reply.data or {}).get('detail')}",
            key=(run["id"],),
            known=known,
        )

    def _expect(self, visit_id: int, after: dict | None, *, therapist: int, start: str, what: str) -> None:
        ok = after is not None and after["therapist_id"] == therapist and after["status"] in ASSIGNED_STATUSES
        if not ok or after["planned_start"] != dt.datetime.fromisoformat(start):
            got = (
                "gone"
                if after is None
                else f"{after['status']} therapist {after['therapist_id']} {after['planned_start']}"
            )
            self.fail(
                "plan_applies_as_read",
                f"{what}: visit {visit_id} should be with therapist {therapist} at {start}; it is {got}",
                key=(what, visit_id),
                ids=(visit_id,),
            )

    def _unchanged(self, before: dict[int, dict], after: dict[int, dict], said: set[int], what: str) -> None:
        for visit_id, old in before.items():
            new = after.get(visit_id)
            if visit_id in said or new is None:
                continue
            moved = [n for n in ("status", "therapist_id", "planned_start", "planned_end") if old[n] != new[n]]
            if moved:
                self.fail(
                    "plan_applies_as_read",
                    f"{what} changed visit {visit_id} ({moved}) without saying so",
                    key=(what, visit_id),
                    ids=(visit_id,),
                )

    def day_plan_applied(self, run: dict, *, before: dict[int, dict], agency: Agency) -> None:
        after = self.visits_now(agency)
        result, what = run["result"], f"plan {run['id']}"
        said: set[int] = set()
        for route in result["routes"]:
            for stop in route["stops"]:
                said.add(stop["visit_id"])
                self._expect(
                    stop["visit_id"],
                    after.get(stop["visit_id"]),
                    therapist=route["therapist_id"],
                    start=stop["start"],
                    what=what,
                )
        for item in result["unassigned"]:
            visit_id = item["visit_id"]
            said.add(visit_id)
            new = after.get(visit_id)
            if new is not None and new["status"] in BOOKED:
                self.fail(
                    "plan_applies_as_read",
                    f"{what} left visit {visit_id} unassigned ({item['code']}), yet it "
                    f"is still {new['status']} with therapist {new['therapist_id']}",
                    key=(what, visit_id),
                    ids=(visit_id,),
                    known=UNBOOKED_CONFIRMED if new["status"] == VisitStatus.CONFIRMED else None,
                )
        self._unchanged(before, after, said, what)

    def replan_applied(self, proposal: dict, *, before: dict[int, dict], agency: Agency) -> None:
        after = self.visits_now(agency)
        diff, what = proposal.get("diff") or {}, f"re-plan {proposal['id']}"
        said: set[int] = set()
        for item in diff.get("moved", []) + diff.get("added", []):
            said.add(item["visit"])
            self._expect(
                item["visit"],
                after.get(item["visit"]),
                therapist=item["therapist"],
                start=item.get("new_start") or item["start"],
                what=what,
            )
        for item in diff.get("reassigned", []):
            said.add(item["visit"])
            self._expect(
                item["visit"],
                after.get(item["visit"]),
                therapist=item["to_therapist"],
                start=item["new_start"],
                what=what,
            )
        for item in diff.get("dropped", []):
            said.add(item["visit"])
            new = after.get(item["visit"])
            if new is not None and new["status"] in BOOKED:
                self.fail(
                    "plan_applies_as_read",
                    f"{what} said visit {item['visit']} is dropped; it is still "
                    f"{new['status']} with therapist {new['therapist_id']}",
                    key=(what, item["visit"]),
                    ids=(item["visit"],),
                    known=UNBOOKED_CONFIRMED if new["status"] == VisitStatus.CONFIRMED else None,
                )
        self._unchanged(before, after, said, what)

    # Feeds: exactly the owner's booked visits, stable UIDs, rising SEQUENCE, nothing from the intake

    def feed(self, feed: Feed, parser_problems: list[str]) -> None:
        label = f"{feed.owner} {feed.owner_id}'s feed"
        for problem in parser_problems:
            self.fail("feeds_parse", f"{label}: {problem}", key=(feed.owner, feed.owner_id, problem[:40]))
        agency = self.sim.world.agencies[feed.agency]
        owner = {"therapist_id" if feed.owner == "therapist" else "facility_id": feed.owner_id}
        if feed.gone:
            if feed.owner == "therapist" and Therapist.objects.filter(pk=feed.owner_id, active=True).exists():
                self.fail(
                    "feeds_list_booked_visits",
                    f"{label} answered 404 while the therapist is active",
                    key=(feed.owner, feed.owner_id, "gone"),
                )
            return
        if feed.owner == "therapist" and not Therapist.objects.filter(pk=feed.owner_id, active=True).exists():
            self.fail(
                "deactivated_user_refused",
                f"{label} still answers after the therapist was deactivated",
                key=(feed.owner, feed.owner_id, "inactive"),
                known="issue 12 item 7",
            )
        tz = self.sim.tz(agency)
        midnight = dt.datetime.combine(self.sim.clock.now.astimezone(tz).date(), dt.time(0), tzinfo=tz)
        first, last = midnight - dt.timedelta(days=FEED_PAST_DAYS), midnight + dt.timedelta(days=FEED_FUTURE_DAYS + 1)
        ids = {int(UID.match(uid)[2]) for uid in feed.events if UID.match(uid)}
        rows = {r["id"]: r for r in Visit.objects.filter(pk__in=ids).values(*FIELDS)}
        wanted = set(
            Visit.objects.filter(
                organization_id=agency.organization_id,
                status__in=IN_FEED,
                planned_start__gte=first,
                planned_start__lt=last,
                **owner,
            ).values_list("pk", flat=True)
        )
        shown = set()
        for uid, event in feed.events.items():
            match = UID.match(uid)
            if match is None:
                self.fail("feeds_list_booked_visits", f"{label} has an event with UID {uid!r}", key=(uid,))
                continue
            kind, visit_id, slug = match[1], int(match[2]), match[3]
            row = rows.get(visit_id)
            if slug != agency.slug or row is None or row["organization_id"] != agency.organization_id:
                self.fail(
                    "feeds_stay_in_their_organisation",
                    f"{label} shows {uid}, not its organisation's",
                    key=(feed.owner, feed.owner_id, uid),
                    ids=(visit_id,),
                )
                continue
            if kind == "travel":
                visit_event = feed.events.get(f"visit-{visit_id}@{slug}.rounds")
                if feed.owner != "therapist" or visit_event is None or event.end != visit_event.start:
                    self.fail(
                        "feeds_list_booked_visits",
                        f"{label}: travel block {uid} does not end as its visit starts",
                        key=(uid, event.end),
                        ids=(visit_id,),
                    )
                continue
            shown.add(visit_id)
            self._feed_event(label, feed, event, row, owner, visit_id)
        for visit_id in sorted(wanted - shown):
            self.fail(
                "feeds_list_booked_visits",
                f"{label} lacks booked visit {visit_id}",
                key=(feed.owner, feed.owner_id, visit_id, self.mirror.get(visit_id, {}).get("sequence")),
                ids=(visit_id,),
            )
        self._feed_text(label, feed, shown)

    def _feed_event(self, label: str, feed: Feed, event, row: dict, owner: dict, visit_id: int) -> None:
        where = next(iter(owner))
        if row[where] != feed.owner_id or row["status"] == VisitStatus.REQUESTED:
            self.fail(
                "feeds_list_booked_visits",
                f"{label} shows visit {visit_id}, which is {row['status']} with {where} {row[where]}",
                key=(feed.owner, feed.owner_id, visit_id, row["sequence"]),
                ids=(visit_id,),
            )
            return
        cancelled = row["status"] == VisitStatus.CANCELLED
        if (event.start, event.end) != (
            _to_second(row["planned_start"]),
            _to_second(row["planned_end"]),
        ) or cancelled != (event.status == ICAL_CANCELLED):
            self.fail(
                "feeds_list_booked_visits",
                f"{label} shows visit {visit_id} {event.start}-{event.end} "
                f"{event.status}; it is {row['status']} {row['planned_start']}-{row['planned_end']}",
                key=(feed.owner, feed.owner_id, visit_id, row["sequence"]),
                ids=(visit_id,),
            )
        if self.uid_of.setdefault(visit_id, event.uid) != event.uid:
            self.fail(
                "feeds_stable_uids",
                f"visit {visit_id} was {self.uid_of[visit_id]}, now {event.uid}",
                key=(visit_id,),
                ids=(visit_id,),
            )
        if event.sequence < self.max_sequence.get(event.uid, 0):
            self.fail(
                "feeds_sequence_rises",
                f"{label}: {event.uid} SEQUENCE fell from {self.max_sequence[event.uid]} to {event.sequence}",
                key=(event.uid, event.sequence),
                ids=(visit_id,),
            )
        self.max_sequence[event.uid] = max(event.sequence, self.max_sequence.get(event.uid, 0))

    def _feed_text(self, label: str, feed: Feed, shown: set[int]) -> None:
        if not feed.text:
            return
        patients = set(Visit.objects.filter(pk__in=shown).values_list("patient_id", flat=True))
        for marker in re.findall(r"SIM[A-Z]+\d+x\d+x\d{6}", feed.text):
            kind, patient_id = self.sim.world.markers.get(marker, ("unknown", 0))
            if kind in INTAKE or feed.owner == "facility" or patient_id not in patients:
                self.fail(
                    "feeds_carry_no_intake",
                    f"{label} carries {kind} text of patient {patient_id}",
                    key=(feed.owner, feed.owner_id, kind, patient_id),
                )

    # Roles: each sees its own organisation, facility or visits, and therapists no clinical notes

    def scope(self, actor, visits: list[dict], patients: list[dict]) -> None:
        person = actor.person
        org = self.sim.world.agencies[person.agency].organization_id
        ids = [v["id"] for v in visits]
        rows = {
            r["id"]: r
            for r in Visit.objects.filter(pk__in=ids).values(
                "id", "organization_id", "therapist_id", "facility_id"
            )
        }
        for visit_id in ids:
            row = rows.get(visit_id)
            mine = (
                row is not None
                and row["organization_id"] == org
                and (
                    person.role == "coordinator"
                    or (person.role == "therapist" and row["therapist_id"] == person.therapist_id)
                    or (person.role == "facility_staff" and row["facility_id"] == person.facility_id)
                )
            )
            if not mine:
                self.fail(
                    "scoped_roles",
                    f"{actor.name} ({person.role}) sees visit {visit_id}",
                    key=(actor.name, visit_id),
                    ids=(visit_id,),
                )
        if person.role != "therapist":
            return
        text = repr(visits) + repr(patients)
        for marker in re.findall(r"SIM[A-Z]+\d+x\d+x\d{6}|SIMFEVER\d+", text):
            kind = "contra" if marker.startswith("SIMFEVER") else self.sim.world.markers.get(marker, ("?", 0))[0]
            if kind in INTAKE:
                self.fail(
                    "scoped_roles",
                    f"therapist {actor.name} reads {kind} text through the API",
                    key=(actor.name, kind),
                    known="issue 12 item 8" if kind == "contra" else None,
                )
