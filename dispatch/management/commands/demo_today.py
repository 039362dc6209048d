from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from dispatch.demo.seed import DEMO_SLUG
from dispatch.demo.today import demo_today_start
from dispatch.models import Organization, Visit


class Command(BaseCommand):
    help = "Plan and apply the demo's visits for today and play the day up to now, as if all went to plan."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--organization", default=DEMO_SLUG, help="Organisation slug (default: the demo).")
        parser.add_argument("--time-limit", type=float, default=10.0)

    def handle(self, *args, **opts) -> None:
        org = Organization.objects.filter(slug=opts["organization"]).first()
        if org is None:
            raise CommandError(f"No organisation with slug {opts['organization']!r}.")
        day = timezone.localdate(timezone=org.tz)
        if not Visit.objects.filter(organization=org, date=day, status="requested").exists():
            self.stdout.write(f"No visit requests for today ({day}); nothing to start.")
            return
        try:
            started = demo_today_start(organization=org, day=day, time_limit_s=opts["time_limit"])
        except RuntimeError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(self.style.SUCCESS(
            f"Today ({day}): {started.planned} visits planned and applied; played up to now as planned: "
            f"{started.completed} done, {len(started.checked_in)} under way, {len(started.next_visits)} therapists "
            "with visits still to come."
        ))
