from __future__ import annotations

import datetime as dt
import json

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from dispatch.demo.seed import DEMO_SLUG
from dispatch.models import Therapist, Visit, VisitStatus, VisitWindow
from dispatch.services.api_tokens import api_tokens_reissue
from dispatch.services.feed_tokens import feed_token_rotate, feed_urls

SLOTS = ("08:00", "10:00", "13:00")


class Command(BaseCommand):
    help = "Prepare the planned demo region for `make load`: a therapist feed of N events, tokens, URLs (JSON)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--events", type=int, default=200)
        parser.add_argument("--base", default="http://127.0.0.1:8766")

    @transaction.atomic
    def handle(self, *args, **opts) -> None:
        therapist = Therapist.objects.filter(organization__slug=DEMO_SLUG, user__username="therapist1").first()
        if therapist is None:
            raise CommandError("Load the demo first: manage.py seed_demo && manage.py plan_day")
        org = therapist.organization
        template = Visit.objects.filter(therapist=therapist).select_related("patient").first()
        if template is None:
            raise CommandError("Plan the demo day first: manage.py plan_day")
        today = timezone.localdate(timezone=org.tz)
        have = Visit.objects.filter(therapist=therapist).count()
        busy_days = set(Visit.objects.filter(therapist=therapist).values_list("date", flat=True))
        days = [today + dt.timedelta(days=d) for d in range(-13, 60)]
        needed = max(0, opts["events"] - have)
        slots = [(d, s) for d in days if d not in busy_days for s in SLOTS][:needed]
        visits = []
        for day, hhmm in slots:
            start = dt.datetime.combine(day, dt.time.fromisoformat(hhmm), tzinfo=org.tz)
            visits.append(Visit(
                organization=org, patient=template.patient, facility=template.facility,
                location_text=template.location_text, lat=template.lat, lon=template.lon, date=day,
                duration_min=30, status=VisitStatus.SCHEDULED, therapist=therapist, planned_start=start,
                planned_end=start + dt.timedelta(minutes=30), planned_busy_until=start + dt.timedelta(minutes=45),
                planned_travel_min=12, planned_travel_km=5.2,
            ))
        Visit.objects.bulk_create(visits)
        VisitWindow.objects.bulk_create(
            VisitWindow(visit=v, start=v.planned_start, end=v.planned_busy_until) for v in visits
        )
        feed_token, secret = feed_token_rotate(therapist=therapist)
        feed_path = feed_urls(feed_token=feed_token, token=secret).url.split("/feeds/", 1)[1]
        coordinator_token = api_tokens_reissue(user=org.users.get(username="coordinator"))
        day = Visit.objects.filter(organization=org).exclude(pk__in=[v.pk for v in visits]).latest("date").date
        base = opts["base"].rstrip("/")
        self.stdout.write(json.dumps({
            "feed_url": f"{base}/feeds/{feed_path}",
            "feed_events": have + len(visits),
            "schedule_url": f"{base}/api/v1/schedule?date={day}",
            "coordinator_token": coordinator_token,
        }))
