from __future__ import annotations

import datetime as dt
import zoneinfo

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from dispatch.demo.region import TIMEZONE
from dispatch.demo.seed import DEMO_PASSWORD, DEMO_SLUG, demo_seed
from dispatch.models import Organization


class Command(BaseCommand):
    help = (
        "Load the demo region (Toronto): therapists, facilities, patients, tomorrow's visit requests "
        "and today's (demo_today plans today and starts it)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--date", help="Plan day (YYYY-MM-DD); default tomorrow in the demo time zone.")
        parser.add_argument("--seed", type=int, default=7)
        parser.add_argument("--visits", type=int, default=150)
        parser.add_argument("--today-visits", type=int, default=100, help="Requests for today; 0 for none.")
        parser.add_argument("--keep", action="store_true", help="Leave an existing demo region as it is.")

    def handle(self, *args, **opts) -> None:
        if opts["keep"] and Organization.objects.filter(slug=DEMO_SLUG).exists():
            self.stdout.write("Demo region already loaded; kept as it is (--keep).")
            return
        if opts["date"]:
            try:
                day = dt.date.fromisoformat(opts["date"])
            except ValueError as exc:
                raise CommandError(f"--date: {exc}") from exc
        else:
            day = timezone.localdate(timezone=zoneinfo.ZoneInfo(TIMEZONE)) + dt.timedelta(days=1)
        today = timezone.localdate(timezone=zoneinfo.ZoneInfo(TIMEZONE)) if opts["today_visits"] else None
        s = demo_seed(
            day=day, seed=opts["seed"], visits=opts["visits"], today=today, today_visits=opts["today_visits"]
        )
        self.stdout.write(self.style.SUCCESS(
            f"Demo region loaded for {s.day}: {s.therapists} therapists, {s.facilities} facilities, "
            f"{s.patients} patients, {s.visits} visit requests"
            + (f"; {s.today_visits} for today ({s.today})." if s.today else ".")
        ))
        self.stdout.write(f"Demo users (password '{DEMO_PASSWORD}'); `manage.py demo_banner` gives them API tokens:")
        for username, role in s.users:
            self.stdout.write(f"  {username:<42} {role}")
