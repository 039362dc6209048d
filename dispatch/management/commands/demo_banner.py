from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.core.management.base import BaseCommand

from dispatch.demo.seed import DEMO_PASSWORD, DEMO_SLUG, demo_tokens_issue
from dispatch.models import Visit, VisitStatus


class Command(BaseCommand):
    help = (
        "Print where to look once the demo server is up: pages, API docs, demo users and fresh API tokens "
        "(each run replaces the demo users' earlier tokens)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", default="8000")

    def handle(self, *args, **opts) -> None:
        base = f"http://{opts['host']}:{opts['port']}"
        tokens = demo_tokens_issue()
        days = Visit.objects.filter(organization__slug=DEMO_SLUG).order_by("-date").values_list("date", flat=True)
        day = days.first()
        coordinator = next((token for user, token in tokens if user.role == "coordinator"), "<token>")
        lines = [
            "",
            "Rounds is starting. Look here:",
            f"  Dispatch board     {base}/board/   (log in as coordinator / {DEMO_PASSWORD})",
            f"  Therapist's phone  {base}/app/?date={day}   (therapist1)",
            f"  Facility requests  {base}/facility/   (staff-st-brigids-hospital)",
            f"  API docs (Swagger) {base}/api/docs/",
            f"  OpenAPI schema     {base}/api/schema/",
            f"  Admin              {base}/admin/   (coordinator / {DEMO_PASSWORD})",
            "",
            f"Demo users (password '{DEMO_PASSWORD}') and API tokens:",
            *(f"  {user.username:<42} {user.role:<15} {token}" for user, token in tokens),
            f"Tokens expire after {settings.REST_KNOX['TOKEN_TTL'].days} days unused; POST {base}/api/v1/auth/token "
            "gives a new one.",
            "",
            "Try:",
            f'  curl -H "Authorization: Token {coordinator}" "{base}/api/v1/visits?date={day}"',
            f'  curl -H "Authorization: Token {coordinator}" "{base}/api/v1/schedule?date={day}"',
            "",
            *self.replan_lines(base, tokens, coordinator),
        ]
        self.stdout.write("\n".join(lines))

    def replan_lines(self, base: str, tokens, coordinator: str) -> list[str]:
        """Today's day is under way (demo_today): report a delay on a second visit and read the proposal."""
        started = (
            Visit.objects.filter(organization__slug=DEMO_SLUG, status=VisitStatus.IN_PROGRESS)
            .select_related("therapist__user").order_by("planned_start").first()
        )
        if started is None:
            return []
        after = Visit.objects.filter(
            therapist=started.therapist, date=started.date, status=VisitStatus.SCHEDULED
        ).order_by("planned_start").first()
        token = next((token for user, token in tokens if user.pk == started.therapist.user_id), "<token>")
        at = (started.planned_start + dt.timedelta(minutes=20)).astimezone(started.organization.tz).isoformat()
        json = "-H 'Content-Type: application/json'"
        lines = ["Today is under way: the morning's therapists are checked in at their first visit. Re-plan it:"]
        if after is not None:
            lines += [
                f"  {started.therapist.display_name} reports running 25 min late (the answer holds the proposal):",
                f'  curl -X POST -H "Authorization: Token {token}" {json} '
                f"-d '{{\"minutes\": 25, \"at\": \"{at}\"}}' {base}/api/v1/visits/{after.pk}/late",
            ]
        lines += [
            f"  {started.therapist.display_name} goes home sick instead:",
            f'  curl -X POST -H "Authorization: Token {coordinator}" {json} '
            f"-d '{{\"start\": \"{at}\"}}' {base}/api/v1/therapists/{started.therapist_id}/off",
            f'  Read a proposal: curl -H "Authorization: Token {coordinator}" {base}/api/v1/plans/<id>/diff',
            f'  Apply it:        curl -X POST -H "Authorization: Token {coordinator}" {base}/api/v1/plans/<id>/apply',
            "",
        ]
        return lines
