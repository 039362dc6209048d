"""What messages may carry, swept as the feeds are: every sensitive field holds a marker that cannot occur by
chance, a day of changes goes through the real routes, and every email, SMS, webhook body and in-app answer is
searched. Reasons go to the facility that asked (and integrations), never to therapists or in alerts."""
from __future__ import annotations

import datetime as dt
import json

from django.core import mail
from django.core.management import call_command

from dispatch import models as m
from dispatch.notifications.sms import LocmemSmsBackend
from tests import factories as f
from tests.conftest import _client_for
from tests.feeds.test_feed_privacy import BIRTH_DATE_FORMS, NEVER, _patient
from tests.notifications.conftest import DAY, travel
from tests.notifications.receiver import Receiver


def _sms_for_everyone(*users) -> None:
    for number, user in enumerate(users):
        m.NotificationPreference.objects.create(user=user, sms=True, sms_number=f"+1416555{number:04d}")


def test_no_message_carries_health_details_and_only_the_facility_sees_a_reason(
    organization, django_capture_on_commit_callbacks
):
    callbacks = django_capture_on_commit_callbacks
    coordinator = f.UserFactory(organization=organization)
    therapist = f.TherapistFactory(organization=organization)
    facility = f.FacilityFactory(organization=organization)
    staff = f.FacilityStaffFactory(organization=organization, facility=facility)
    (home, home_mk), (ward, ward_mk), (home2, home2_mk) = (
        _patient(organization, "home", None), _patient(organization, "A", facility), _patient(organization, "h2", None)
    )
    markers = {"home": home_mk, "A": ward_mk, "h2": home2_mk}
    visits = {
        tag: f.VisitFactory(
            organization=organization, patient=patient, date=DAY, instructions=markers[tag]["instructions"],
            requested_by=staff if tag == "A" else coordinator, windows=[("09:00", "15:00")],
        )
        for tag, patient in (("home", home), ("A", ward), ("h2", home2))
    }
    _sms_for_everyone(coordinator, therapist.user, staff)
    with Receiver().running() as org_hook, Receiver().running() as facility_hook:
        every = [e.value for e in m.WebhookEvent]
        _client_for(coordinator).post("/api/v1/webhooks", {"url": org_hook.url, "events": every}, format="json")
        _client_for(staff).post("/api/v1/webhooks", {"url": facility_hook.url, "events": every}, format="json")

        with travel("16:00", DAY - dt.timedelta(days=1), tick=True):
            plan = _client_for(coordinator).post(
                "/api/v1/plans", {"date": DAY.isoformat(), "time_limit_s": 1}, format="json"
            )
            with callbacks(execute=True):
                assert _client_for(coordinator).post(f"/api/v1/plans/{plan.data['id']}/apply").status_code == 200
        starts = {tag: m.Visit.objects.get(pk=v.pk).planned_start for tag, v in visits.items()}
        with travel(starts["home"].astimezone(f.TORONTO).strftime("%H:%M")), callbacks(execute=True):
            _client_for(therapist.user).post(
                f"/api/v1/visits/{visits['home'].pk}/check-in", {"lat": home.lat + 0.05, "lon": home.lon}, format="json"
            )
            _client_for(coordinator).post(
                f"/api/v1/visits/{visits['A'].pk}/cancel", {"reason": ward_mk["reason"]}, format="json"
            )
        with travel((starts["h2"] + dt.timedelta(minutes=15)).astimezone(f.TORONTO).strftime("%H:%M")):
            call_command("notifications_run", "--once")
        hooks = {"org": [body.decode() for _, body in org_hook.requests],
                 "facility": [body.decode() for _, body in facility_hook.requests]}

    texts: dict[str, list[str]] = {"therapist": [], "staff": [], "coordinator": []}
    for who, user in (("therapist", therapist.user), ("staff", staff), ("coordinator", coordinator)):
        texts[who] += [f"{e.subject}\n{e.body}" for e in mail.outbox if user.email in e.to]
        texts[who] += [json.dumps(_client_for(user).get("/api/v1/notifications").data)]
    numbers = dict(m.NotificationPreference.objects.values_list("sms_number", "user_id"))
    for sms in LocmemSmsBackend.outbox:
        who = {therapist.user.pk: "therapist", staff.pk: "staff", coordinator.pk: "coordinator"}[numbers[sms["to"]]]
        texts[who].append(sms["body"])
    texts.update({"org webhook": hooks["org"], "facility webhook": hooks["facility"]})

    assert all(texts.values()), {who: len(t) for who, t in texts.items()}  # everyone heard something
    assert any("visit.late" in body for body in hooks["org"]) and any("checkin_far" in t for t in texts["coordinator"])
    for who, bodies in texts.items():
        text = "\n".join(bodies)
        for mk in markers.values():
            for field in NEVER:
                if field == "reason" and who in ("staff", "facility webhook", "org webhook"):
                    continue
                assert mk[field] not in text, (who, field)
        assert not [form for form in BIRTH_DATE_FORMS if form in text], who
    for who in ("staff", "facility webhook", "org webhook"):
        assert ward_mk["reason"] in "\n".join(texts[who]), who
    assert all(f'"facility":{facility.pk}' in body for body in hooks["facility"])
