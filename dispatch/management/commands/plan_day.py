from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from dispatch.demo.seed import DEMO_SLUG
from dispatch.exceptions import DispatchError
from dispatch.models import Organization, PlanStatus, Visit
from dispatch.services.plans import plan_run_apply, plan_run_execute, plan_run_create


class Command(BaseCommand):
    help = "Plan a day for an organisation in this process and apply it (make run plans the demo day)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--organization", default=DEMO_SLUG, help="Organisation slug (default: the demo).")
        parser.add_argument("--date", help="YYYY-MM-DD; default the latest day with visit requests.")
        parser.add_argument("--time-limit", type=float, default=10.0)
        parser.add_argument("--no-apply", action="store_true", help="Plan only; apply later through the API.")
        parser.add_argument(
            "--drop-booked", action="store_true",
            help="Apply even if the plan leaves booked visits unassigned (they go back to requested).",
        )

    def handle(self, *args, **opts) -> None:
        org = Organization.objects.filter(slug=opts["organization"]).first()
        if org is None:
            raise CommandError(f"No organisation with slug {opts['organization']!r}.")
        if opts["date"]:
            day = dt.date.fromisoformat(opts["date"])
        else:
            day = Visit.objects.filter(organization=org).order_by("-date").values_list("date", flat=True).first()
            if day is None:
                raise CommandError("The organisation has no visits to plan.")
        try:
            run = plan_run_create(
                organization=org, day=day, created_by=None, time_limit_s=opts["time_limit"], execute=False
            )
        except DispatchError as exc:
            raise CommandError(exc.message) from exc
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        self.stdout.write(f"Planning {day} for {org.name} ({opts['time_limit']:.0f} s)...")
        run = plan_run_execute(plan_run_id=run.pk)
        if run.status != PlanStatus.SUCCEEDED:
            raise CommandError(f"Plan {run.pk} failed: {run.error}")
        kpis = run.result["kpis"]
        self.stdout.write(
            f"Plan {run.pk}: {kpis['assigned']} visits assigned, {kpis['unassigned']} left unassigned with reasons, "
            f"{kpis['travel_min']:.0f} min travel, utilisation {kpis['utilisation']:.0%}."
        )
        if not opts["no_apply"]:
            try:
                plan_run_apply(plan_run=run, applied_by=None, drop_booked=opts["drop_booked"])
            except DispatchError as exc:
                raise CommandError(exc.message) from exc
            self.stdout.write(self.style.SUCCESS(f"Plan {run.pk} applied: the schedule and feeds show it."))
