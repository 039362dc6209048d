"""The three kinds of users, each acting only through the HTTP API with its own token.

Each method is one step of the run: what one person does at one moment. What they know comes from
the API's answers (and the generated world's ids, which they would know from their own screens).
Deliberate bad input and the known holes of issues 11 and 12 are probes: ``recorder.probe`` names
the issue item, so a failure they cause is attributed to the helper fixing it.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import TYPE_CHECKING, Any

from dispatch.simulation.http import Actor

if TYPE_CHECKING:
    from dispatch.simulation.engine import Simulation

DURATIONS = (15, 20, 20, 25, 30, 30, 30, 30, 45, 60, 90)
WINDOW_SHAPES = (
    ("09:00", "12:00"),
    ("13:00", "16:30"),
    ("10:00", "15:00"),
    ("08:30", "11:00"),
    ("14:00", "18:00"),
    ("09:30", "17:00"),
)
SKILL_NEEDS = (None,) * 12 + ("mld", "oncology", "geriatric")
HUGE_ID = "99999999999999999999999"


def parse(moment: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(moment) if moment else None


def iso(moment: dt.datetime) -> str:
    return moment.isoformat()


class SimActor(Actor):
    def __init__(self, *, sim: Simulation, **kwargs) -> None:
        super().__init__(recorder=sim.recorder, on_write=sim.note_write, clock=sim.clock, **kwargs)
        self.sim = sim
        self.agency = sim.world.agencies[self.person.agency]

    @property
    def rng(self):
        return self.sim.rng

    def review_proposal(self, reply, because: str, after: dt.timedelta = dt.timedelta(minutes=4)) -> None:
        """A report that proposed a re-plan (late, interruption, a cancel or no-show of today's booked visit):
        the agency's coordinator reads it a few minutes later, as they would between calls."""
        if not (reply.ok and isinstance(reply.data, dict) and reply.data.get("replan")):
            return
        self.sim.recorder.counters["re-plans run"] += 1
        self.sim.recorder.counters[f"re-plans after {because}"] += 1
        run = reply.data["replan"]
        self.sim.schedule(
            self.sim.clock.now + after,
            lambda: self.sim.coordinator_of(self).review_replan(run),
            f"coordinator reviews re-plan {run['id']}",
            self.person.agency,
        )

    def at(self, day: dt.date, hhmm: str) -> dt.datetime:
        # Local time with its offset, as a form in the agency's zone sends it.
        return self.sim.local(self.agency, day, hhmm).astimezone(self.sim.tz(self.agency))

    def windows_for(self, day: dt.date, duration: int, *, after: dt.datetime | None = None) -> list[dict[str, str]]:
        if after is None and self.rng.random() < 0.1:
            # An appointment: this time exactly, for exactly the session.
            s = self.at(day, self.rng.choice(("09:00", "10:30", "13:00", "14:30")))
            return [{"start": iso(s), "end": iso(s + dt.timedelta(minutes=duration))}]
        first, last = self.rng.choice(WINDOW_SHAPES)
        shapes = [(first, last)]
        if last <= "12:00" and self.rng.random() < 0.3:
            shapes.append(("14:00", "17:30"))
        windows = []
        for start, end in shapes:
            s, e = self.at(day, start), self.at(day, end)
            if after is not None:
                s = max(s, after)
            if e - s >= dt.timedelta(minutes=duration + 15):
                windows.append({"start": iso(s), "end": iso(e)})
        return windows


class Requester(SimActor):
    """Shared by facility staff and the coordinator: both ask for visits."""

    def visit_body(self, *, patient: int, day: dt.date, urgent: bool = False, after=None) -> dict[str, Any] | None:
        duration = self.rng.choice(DURATIONS)
        windows = self.windows_for(day, duration, after=after)
        if not windows:
            return None
        body: dict[str, Any] = {
            "patient": patient,
            "date": day.isoformat(),
            "duration_min": duration,
            "windows": windows,
            "priority": "urgent" if urgent else self.rng.choice(("routine",) * 6 + ("soon",)),
        }
        skill = self.rng.choice(SKILL_NEEDS)
        if skill:
            body["required_skills"] = [skill]
        if self.rng.random() < 0.2:
            body["instructions"] = "Ring twice; quiet voice."
        return body

    def request_visit(self, *, patient: int, day: dt.date, urgent: bool = False, after=None) -> int | None:
        body = self.visit_body(patient=patient, day=day, urgent=urgent, after=after)
        if body is None:
            return None
        if self.rng.random() < 0.15:
            return self._request_with_retry(body)
        reply = self.call("POST", "/api/v1/visits", body)
        if reply.ok:
            self.sim.recorder.counters["visits requested"] += 1
            return reply.data["id"]
        return None

    def _request_with_retry(self, body: dict[str, Any]) -> int | None:
        """The answer was lost on the way back: the client sends the same request with the same key again."""
        key = str(uuid.UUID(int=self.rng.getrandbits(128)))
        first = self.call("POST", "/api/v1/visits", body, headers={"Idempotency-Key": key})
        if not first.ok:
            return None
        self.sim.recorder.counters["visits requested"] += 1
        self.sim.recorder.counters["idempotent retries"] += 1
        again = self.call("POST", "/api/v1/visits", body, headers={"Idempotency-Key": key})
        self.recorder.probe = "issue 11 item 6"
        if again.ok and again.data.get("id") != first.data["id"]:
            self.recorder.fail(
                "idempotent_retry",
                f"a retry with Idempotency-Key {key} made visit {again.data.get('id')} beside {first.data['id']}",
                key=("duplicate",),
                ids=(first.data["id"], again.data.get("id")),
            )
            self.cancel(again.data["id"], "Duplicate request")
        elif again.ok and again.headers.get("Idempotent-Replayed") != "true":
            self.recorder.fail(
                "idempotent_retry",
                "a replayed answer does not say Idempotent-Replayed: true",
                key=("header",),
                ids=(first.data["id"],),
            )
        other = {**body, "duration_min": 15 if body["duration_min"] != 15 else 20}
        reused = self.call("POST", "/api/v1/visits", other, headers={"Idempotency-Key": key})
        if reused.ok:
            self.recorder.fail(
                "idempotent_retry",
                f"a reused key with another body was accepted ({reused.status})",
                key=("reused",),
                ids=(reused.data.get("id"),),
            )
            if reused.data.get("id") not in (None, first.data["id"]):
                self.cancel(reused.data["id"], "Duplicate request")
        self.recorder.probe = None
        return first.data["id"]

    def cancel(self, visit_id: int, reason: str) -> bool:
        reply = self.call("POST", f"/api/v1/visits/{visit_id}/transition", {"status": "cancelled", "reason": reason})
        self.review_proposal(reply, "a cancellation")
        return reply.ok

    def request_series(self, *, patient: int, starts_on: dt.date, ends_on: dt.date) -> None:
        start = self.rng.choice(("09:00", "10:00", "13:00"))
        body = {
            "patient": patient,
            "weekdays": sorted(self.rng.sample(range(7), k=self.rng.randint(1, 3))),
            "window_start": start,
            "window_end": f"{int(start[:2]) + 3:02d}:30",
            "duration_min": self.rng.choice(DURATIONS[:8]),
            "starts_on": starts_on.isoformat(),
            "ends_on": ends_on.isoformat(),
        }
        reply = self.call("POST", "/api/v1/visit-series", body)
        if reply.ok:
            self.sim.recorder.counters["series requested"] += 1
            self.sim.recorder.counters["visits requested"] += len(reply.data.get("visits", []))


class FacilityStaff(Requester):
    role = "facility_staff"

    def setup(self) -> None:
        self.patients = [p["id"] for p in self.pages("/api/v1/patients?page_size=200") if p.get("active", True)]

    def request(self, today: dt.date) -> None:
        if not self.patients:
            return
        patient, roll = self.rng.choice(self.patients), self.rng.random()
        if roll < 0.08 and today > self.sim.world.start:
            # Same day, urgent, later today: only a re-plan can place it.
            now = self.sim.clock.now + dt.timedelta(minutes=60)
            self.request_visit(patient=patient, day=today, urgent=True, after=now)
        elif roll < 0.16 and self.sim.days_left(today) > 3:
            self.request_series(
                patient=patient,
                starts_on=today + dt.timedelta(days=1),
                ends_on=min(today + dt.timedelta(days=14), self.sim.last_day),
            )
        else:
            ahead = self.rng.choice((1, 1, 1, 1, 2, 3, 4))
            self.request_visit(patient=patient, day=today + dt.timedelta(days=ahead))

    def _own_requests(self, today: dt.date) -> list[dict]:
        return self.pages(f"/api/v1/visits?date_from={today + dt.timedelta(days=1)}&page_size=200")

    def change_or_cancel(self, today: dt.date) -> None:
        visits = self._own_requests(today)
        if not visits:
            return
        visit = self.rng.choice(visits)
        if self.rng.random() < 0.5:
            day = dt.date.fromisoformat(visit["date"])
            duration = self.rng.choice(DURATIONS)
            change: dict[str, Any] = {"duration_min": duration}
            windows = self.windows_for(day, duration)
            if windows and self.rng.random() < 0.6:
                change["windows"] = windows
            # A scheduled visit is the coordinator's to change now: expect a 403 saying so.
            self.call("PATCH", f"/api/v1/visits/{visit['id']}", change)
        else:
            self.cancel(visit["id"], self.rng.choice(("Patient discharged", "Family asked to postpone")))

    def bad_input(self, today: dt.date) -> None:
        """Mistakes real forms make; each must be refused with a 4xx that says why."""
        if not self.patients:
            return
        patient = self.rng.choice(self.patients)
        day = today + dt.timedelta(days=1)

        def window(start: str, end: str, *, on: dt.date = day) -> dict[str, str]:
            return {"start": iso(self.at(on, start)), "end": iso(self.at(on, end))}

        good = {"patient": patient, "date": day.isoformat(), "duration_min": 30, "windows": [window("09:00", "12:00")]}
        cases = [
            ("window ends before it starts", {**good, "windows": [window("12:00", "09:00")]}, None),
            ("95-minute session", {**good, "duration_min": 95}, None),
            (
                "window on another day",
                {**good, "windows": [window("09:00", "12:00", on=day + dt.timedelta(days=1))]},
                None,
            ),
            ("unknown skill", {**good, "required_skills": ["levitation"]}, None),
            (
                "overlapping windows",
                {**good, "windows": [window("09:00", "11:00"), window("10:00", "12:00")]},
                "issue 11 item 3",
            ),
            ("window shorter than the session", {**good, "windows": [window("09:00", "09:20")]}, "issue 11 item 7"),
            (
                "date in the past",
                {
                    **good,
                    "date": (today - dt.timedelta(days=1)).isoformat(),
                    "windows": [window("09:00", "12:00", on=today - dt.timedelta(days=1))],
                },
                "issue 11 item 7",
            ),
            (
                "datetime without an offset",
                {**good, "windows": [{"start": f"{day}T09:00:00", "end": f"{day}T12:00:00"}]},
                "issue 11 item 7",
            ),
            (
                "thirteen windows",
                {
                    **good,
                    "duration_min": 15,
                    "windows": [
                        window(f"{8 + h // 2:02d}:{30 * (h % 2):02d}", f"{8 + h // 2:02d}:{30 * (h % 2) + 20:02d}")
                        for h in range(13)
                    ],
                },
                "issue 12 item 5",
            ),
        ]
        label, body, known = self.rng.choice(cases)
        self.recorder.probe = known
        reply = self.call("POST", "/api/v1/visits", body)
        if reply.ok:
            self.recorder.fail(
                "bad_input_refused",
                f"facility staff's '{label}' was accepted ({reply.status})",
                key=(label,),
                ids=(reply.data.get("id"),),
            )
            # The desk notices its mistake and withdraws it, so one typo does not colour the rest of the run.
            self.cancel(reply.data["id"], "Entered by mistake")
        self.recorder.probe = None

    def wrong_doors(self) -> None:
        """Another facility's visit, out-of-range and malformed ids, deep JSON: 404/400 JSON, never a 5xx."""
        stranger = self.sim.someone_elses_visit(self)
        if stranger is not None:
            reply = self.call("GET", f"/api/v1/visits/{stranger}")
            if reply.ok:
                self.recorder.fail(
                    "scoped_roles",
                    f"{self.name} read visit {stranger} of another facility",
                    key=(self.name,),
                    ids=(stranger,),
                )
        self.raise_units()
        self.recorder.probe = "issue 12 item 6"
        param = self.rng.choice(("therapist", "facility", "patient"))
        self.call("GET", f"/api/v1/visits?{param}={HUGE_ID}")
        self.call("GET", "/api/v1/visits/not-a-number")
        self.call("POST", "/api/v1/visits", raw="[" * 5000 + "]" * 5000)
        self.recorder.probe = None


    def raise_units(self) -> None:
        """A ward clerk who could raise a patient's authorised units, or set the used ones back to 0, could book
        sessions nobody pays for: both are refused, and the units stay as the agency recorded them."""
        if not self.patients:
            return
        rng = self.sim.units_rng
        patient = rng.choice(self.patients)
        before = self.call("GET", f"/api/v1/patients/{patient}")
        if not before.ok:
            return
        change = rng.choice(({"units_authorized": 999}, {"units_authorized": None}, {"units_used": 0}))
        (field,) = change
        if before.data[field] == change[field]:
            return
        reply = self.call("PATCH", f"/api/v1/patients/{patient}", change)
        if reply.ok:
            self.recorder.fail(
                "scoped_roles", f"{self.name} changed {field} of patient {patient}", key=(self.name, field),
                ids=(patient,),
            )
        else:
            self.sim.recorder.counters["units changes refused to facility staff"] += 1


class Coordinator(Requester):
    role = "coordinator"

    def setup(self) -> None:
        self.home_patients = [p["id"] for p in self.pages("/api/v1/patients?home=true&page_size=200")]

    def home_requests(self, today: dt.date) -> None:
        for _ in range(self.rng.randint(2, 4)):
            ahead = self.rng.choice((1, 1, 1, 2, 3))
            self.request_visit(patient=self.rng.choice(self.home_patients), day=today + dt.timedelta(days=ahead))
        if self.rng.random() < 0.15 and self.sim.days_left(today) > 3:
            self.request_series(
                patient=self.rng.choice(self.home_patients),
                starts_on=today + dt.timedelta(days=1),
                ends_on=min(today + dt.timedelta(days=10), self.sim.last_day),
            )

    def plan(self, day: dt.date) -> dict | None:
        """Start a day plan (it runs inside the request here) and read its result."""
        reply = self.call("POST", "/api/v1/plans", {"date": day.isoformat(), "time_limit_s": 0.5})
        if reply.status != 202:
            return None
        self.sim.recorder.counters["plans run"] += 1
        run = self.call("GET", f"/api/v1/plans/{reply.data['id']}").data
        self.sim.invariants.plan_finished(run)
        return run

    def apply(self, run: dict, *, fresh: bool) -> bool:
        before = self.sim.invariants.visits_now(self.agency)
        # A plan that takes booked visits off the day says so (would_unbook); the coordinator reads it and
        # confirms (the board asks the same question). Without it, apply refuses such a plan.
        unbooks = ((run.get("result") or {}).get("would_unbook") or {}).get("count", 0)
        reply = self.call("POST", f"/api/v1/plans/{run['id']}/apply", {"drop_booked": True} if unbooks else {})
        if reply.ok:
            self.sim.recorder.counters["plans applied"] += 1
            self.sim.recorder.counters["visits booked by plans"] += sum(
                len(r["stops"]) for r in run["result"]["routes"]
            )
            self.sim.invariants.day_plan_applied(run, before=before, agency=self.agency)
        elif reply.status == 409 and fresh:
            self.sim.invariants.fresh_plan_refused(run, reply, agency=self.agency)
        return reply.ok

    def review_replan(self, run: dict) -> None:
        """Read the proposal's diff; accept most, reject some by leaving them."""
        if run.get("status") != "succeeded":
            # The proposal's short form has no error; the plan's own page does.
            detail = self.call("GET", f"/api/v1/plans/{run['id']}")
            self.sim.invariants.plan_finished(detail.data if detail.ok else run)
            return
        reply = self.call("GET", f"/api/v1/plans/{run['id']}/diff")
        if not reply.ok or self.rng.random() < 0.3:
            self.sim.recorder.counters["re-plans rejected"] += 1
            return
        before = self.sim.invariants.visits_now(self.agency)
        dropped = (reply.data.get("diff") or {}).get("dropped")
        applied = self.call("POST", f"/api/v1/plans/{run['id']}/apply", {"drop_booked": True} if dropped else {})
        if applied.ok:
            self.sim.recorder.counters["re-plans applied"] += 1
            self.sim.invariants.replan_applied(reply.data, before=before, agency=self.agency)

    def replan_today(self) -> dict | None:
        reply = self.call("POST", "/api/v1/replan", {})
        if reply.ok:
            self.sim.recorder.counters["re-plans run"] += 1
            return reply.data
        return None

    def adjust(self, day: dt.date) -> None:
        """After applying: pin a visit or two, move one by hand, sometimes take one back."""
        schedule = self.call("GET", f"/api/v1/schedule?date={day}")
        if not schedule.ok:
            return
        booked = [(d, v) for d in schedule.data for v in d["visits"] if v["status"] in ("scheduled", "confirmed")]
        if not booked:
            return
        for _, visit in self.rng.sample(booked, k=min(len(booked), self.rng.randint(0, 2))):
            self.call("POST", f"/api/v1/visits/{visit['id']}/pin")
        if self.rng.random() < 0.5:
            self._reassign(schedule.data, booked)
        if self.rng.random() < 0.1:
            _, visit = self.rng.choice(booked)
            self.call("PATCH", f"/api/v1/visits/{visit['id']}", {"therapist": None})

    def _reassign(self, days: list[dict], booked: list[tuple[dict, dict]]) -> None:
        """Drop a visit into another therapist's free time, as a coordinator reads it off the board."""
        owner, visit = self.rng.choice(booked)
        detail = self.call("GET", f"/api/v1/visits/{visit['id']}")
        if not detail.ok:
            return
        windows = [(parse(w["start"]), parse(w["end"])) for w in detail.data["windows"]]
        held = parse(visit["planned_busy_until"]) - parse(visit["planned_start"])
        session = dt.timedelta(minutes=visit["duration_min"])
        others = [d for d in days if d["therapist"] != owner["therapist"] and d["shifts"]]
        self.rng.shuffle(others)
        for other in others:
            busy = sorted((parse(v["planned_start"]), parse(v["planned_busy_until"])) for v in other["visits"])
            for shift in other["shifts"]:
                s, e = parse(shift["start"]), parse(shift["end"])
                for start in [s] + [until for _, until in busy]:
                    clear = all(until <= start or begin >= start + held for begin, until in busy)
                    fits = any(ws <= start and start + session <= we for ws, we in windows)
                    if s <= start and start + held <= e and clear and fits:
                        self.recorder.probe = "issue 11 item 5"
                        self.recorder.probe_invariants = frozenset({"travel_between_visits"})
                        self.call(
                            "POST",
                            f"/api/v1/visits/{visit['id']}/assign",
                            {"therapist": other["therapist"], "planned_start": iso(start), "pinned": True},
                        )
                        self.sim.recorder.counters["manual reassigns"] += 1
                        return

    def record_contraindication(self, today: dt.date) -> None:
        """A fever reported for tomorrow and the day after: those visits must come off the plan with a reason."""
        patients = self.home_patients + [p for ps in self.agency.facility_patient_ids.values() for p in ps]
        patient = self.rng.choice(patients)
        current = self.call("GET", f"/api/v1/patients/{patient}")
        if not current.ok:
            return
        starts = today + dt.timedelta(days=1)
        fever = {
            "kind": "fever",
            "note": f"SIMFEVER{patient}",
            "active_from": starts.isoformat(),
            "active_until": (starts + dt.timedelta(days=1)).isoformat(),
        }
        self.call(
            "PATCH", f"/api/v1/patients/{patient}", {"contraindications": [*current.data["contraindications"], fever]}
        )
        self.sim.recorder.counters["contraindications recorded"] += 1

    def lower_units(self, today: dt.date) -> None:
        """The payer authorises fewer sessions than were booked: the visits the units no longer cover come off the
        plan (the booked_within_units invariant checks what stays booked)."""
        rng = self.sim.units_rng
        booked = self.pages(f"/api/v1/visits?date_from={today}&status=scheduled&page_size=200")
        if not booked:
            return
        patient = rng.choice(sorted({v["patient"] for v in booked}))
        current = self.call("GET", f"/api/v1/patients/{patient}")
        if not current.ok:
            return
        used, authorized = current.data["units_used"], current.data["units_authorized"]
        held = sum(1 for v in booked if v["patient"] == patient)
        # Fewer than are used and booked: at least one booked visit is no longer paid for.
        lowered = max(used, used + held - rng.randint(1, 2), 0) if authorized is None else max(
            used, min(authorized, used + held) - rng.randint(1, 2)
        )
        if self.call("PATCH", f"/api/v1/patients/{patient}", {"units_authorized": lowered}).ok:
            self.sim.recorder.counters["authorised units lowered"] += 1

    def record_sick_day(self, day: dt.date) -> None:
        """A therapist calls in sick for tomorrow after the plan is out; their visits must not stay booked on them."""
        schedule = self.call("GET", f"/api/v1/schedule?date={day}")
        if not schedule.ok:
            return
        busy = [d for d in schedule.data if any(v["status"] in ("scheduled", "confirmed") for v in d["visits"])]
        if not busy:
            return
        sick = self.rng.choice(busy)
        body = {"therapist": sick["therapist"], "date": day.isoformat(), "kind": "time_off", "note": "Sick"}
        if self.call("POST", "/api/v1/availability/exceptions", body).ok:
            self.sim.recorder.counters["sick days recorded"] += 1

    def deactivate(self, therapist: Therapist) -> None:
        """A therapist leaves: from this moment their token and feed must open nothing."""
        reply = self.call("PATCH", f"/api/v1/therapists/{therapist.person.therapist_id}", {"active": False})
        if not reply.ok:
            return
        therapist.retired = True
        self.sim.recorder.probe = "issue 12 item 7"
        for path in ("/api/v1/me", "/api/v1/visits?page_size=5"):
            after = therapist.call("GET", path)
            if after.ok:
                self.recorder.fail(
                    "deactivated_user_refused",
                    f"{therapist.name} was deactivated and still read {path} ({after.status})",
                    key=(path,),
                )
        self.sim.recorder.probe = None


class Therapist(SimActor):
    role = "therapist"

    def setup(self) -> None:
        self.seen: dict[int, str] = {}  # visit id -> planned start when its actions were drawn
        self.schedule_version = -1
        self.today: list[dict] = []

    def refresh(self, day: dt.date, *, force: bool = False) -> list[dict]:
        version = self.sim.writes[self.person.agency]
        if force or version != self.schedule_version:
            reply = self.call("GET", f"/api/v1/schedule?date={day}")
            if reply.ok and reply.data:
                self.today = reply.data[0]["visits"]
            elif reply.ok:
                self.today = []
            self.schedule_version = version
        return self.today

    def visit(self, visit_id: int) -> dict | None:
        return next((v for v in self.today if v["id"] == visit_id), None)

    def look(self, day: dt.date, *, force: bool = False) -> None:
        """Read today's schedule and decide what to do about each visit not seen yet (or moved)."""
        for visit in self.refresh(day, force=force):
            if (
                visit["status"] not in ("scheduled", "confirmed")
                or self.seen.get(visit["id"]) == visit["planned_start"]
            ):
                continue
            self.seen[visit["id"]] = visit["planned_start"]
            self._plan_visit(day, visit)

    def _plan_visit(self, day: dt.date, visit: dict) -> None:
        start, now = parse(visit["planned_start"]), self.sim.clock.now
        kind = self.rng.choices(("normal", "late", "no_show", "cancel", "forget"), weights=(82, 9, 3, 2, 4))[0]
        when = {
            "normal": start + dt.timedelta(minutes=self.rng.randint(-5, 8)),
            "late": start - dt.timedelta(minutes=20),
            "no_show": start + dt.timedelta(minutes=5),
            "cancel": start - dt.timedelta(minutes=90),
        }
        if kind == "forget":
            self.sim.recorder.counters["never checked in"] += 1
            return
        action = "check_in" if kind == "normal" else kind
        self.sim.schedule(
            max(when[kind], now),
            lambda: self.act(day, visit["id"], action, visit["planned_start"]),
            f"{self.name} {action} {visit['id']}",
            self.person.agency,
        )

    def act(self, day: dt.date, visit_id: int, action: str, planned_start: str, late_by: int = 0) -> None:
        if self.retired:
            return
        self.refresh(day)
        visit = self.visit(visit_id)
        if visit is None or visit["status"] not in ("scheduled", "confirmed"):
            return
        if visit["planned_start"] != planned_start:
            # Moved by a re-plan or a push: think again from the new time.
            self.seen.pop(visit_id, None)
            self.look(day)
            return
        path = f"/api/v1/visits/{visit_id}"
        if action == "late":
            minutes = self.rng.randint(10, 30)
            self.review_proposal(self.call("POST", f"{path}/late", {"minutes": minutes}), "a late report")
            at = parse(visit["planned_start"]) + dt.timedelta(minutes=minutes)
            self.sim.schedule(
                max(at, self.sim.clock.now),
                lambda: self.act(day, visit_id, "check_in_late", planned_start),
                f"{self.name} check_in (late) {visit_id}",
                self.person.agency,
            )
        elif action in ("check_in", "check_in_late"):
            self._check_in(day, visit)
        elif action == "no_show":
            self.review_proposal(self.call("POST", f"{path}/no-show", {"reason": "Nobody answered the door"}),
                                 "a no-show")
        elif action == "cancel":
            self.review_proposal(self.call("POST", f"{path}/cancel", {"reason": "Patient unwell this morning"}),
                                 "a cancellation")

    def _check_in(self, day: dt.date, visit: dict) -> None:
        far = self.rng.random() < 0.05
        lat = visit["lat"] + (0.02 if far else self.rng.uniform(-0.0004, 0.0004))
        reply = self.call("POST", f"/api/v1/visits/{visit['id']}/check-in", {"lat": lat, "lon": visit["lon"]})
        if not reply.ok:
            return
        now = self.sim.clock.now
        session = dt.timedelta(minutes=visit["duration_min"] + self.rng.randint(-3, 6))
        if self.rng.random() < 0.12:
            minutes = self.rng.randint(5, 20)
            self.sim.schedule(
                now + session / 2,
                lambda: self.review_proposal(self.call(
                    "POST",
                    f"/api/v1/visits/{visit['id']}/interruption",
                    {"minutes": minutes, "kind": self.rng.choice(("paused", "extended"))},
                ), "an interruption"),
                f"{self.name} interruption {visit['id']}",
                self.person.agency,
            )
            session += dt.timedelta(minutes=minutes)
        self.sim.schedule(
            now + session,
            lambda: self._check_out(visit["id"]),
            f"{self.name} check_out {visit['id']}",
            self.person.agency,
        )

    def _check_out(self, visit_id: int) -> None:
        if self.retired:
            return
        reply = self.call("POST", f"/api/v1/visits/{visit_id}/check-out", {})
        if reply.ok:
            self.sim.recorder.counters["visits served"] += 1

    def confirm(self, day: dt.date) -> None:
        reply = self.call("GET", f"/api/v1/schedule?date={day}")
        if not reply.ok or not reply.data:
            return
        for visit in reply.data[0]["visits"]:
            if visit["status"] == "scheduled" and self.rng.random() < 0.5:
                self.call("POST", f"/api/v1/visits/{visit['id']}/transition", {"status": "confirmed"})

    def check_in_with_a_clock_ahead(self, day: dt.date) -> bool:
        """A phone whose clock runs fast sends today's next check-in stamped with the visit's planned start.

        False when no visit of the day is far enough ahead to tell."""
        now = self.sim.clock.now
        ahead = [
            v for v in self.refresh(day, force=True)
            if v["status"] in ("scheduled", "confirmed") and parse(v["planned_start"]) > now + dt.timedelta(hours=1)
        ]
        if not ahead:
            return False
        visit = ahead[0]
        checked_in = self.call("POST", f"/api/v1/visits/{visit['id']}/check-in", {"at": visit["planned_start"]})
        if checked_in.ok:
            self.recorder.fail(
                "check_in_follows_the_clock",
                f"visit {visit['id']} was checked in at {visit['planned_start']}, "
                f"ahead of the clock ({now.isoformat(timespec='seconds')})",
                ids=(visit["id"],),
            )
            self.call("POST", f"/api/v1/visits/{visit['id']}/check-out", {})
        return True

    def check_in_a_day_early(self, tomorrow: dt.date) -> None:
        """The wrong visit tapped on the phone: tomorrow's, checked in and out at once."""
        reply = self.call("GET", f"/api/v1/schedule?date={tomorrow}")
        if not reply.ok or not reply.data or not reply.data[0]["visits"]:
            return
        visit = reply.data[0]["visits"][0]
        self.recorder.probe = "issue 11 item 4"
        checked_in = self.call("POST", f"/api/v1/visits/{visit['id']}/check-in", {})
        if checked_in.ok:
            self.sim.early_check_ins.add((self.person.agency, tomorrow))
            self.recorder.fail(
                "check_in_follows_the_clock",
                f"visit {visit['id']} for {tomorrow} was checked in a day early",
                ids=(visit["id"],),
            )
            self.call("POST", f"/api/v1/visits/{visit['id']}/check-out", {})
        self.recorder.probe = None
