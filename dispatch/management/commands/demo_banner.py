from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils import timezone

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
        """Today is under way (demo_today): report a delay on a therapist's next visit and read the proposal."""
        today = Visit.objects.filter(organization__slug=DEMO_SLUG, status=VisitStatus.SCHEDULED).filter(
            planned_start__gt=timezone.now()
        ).select_related("therapist__user", "organization")
        # A therapist in a session now, with more to come; else whoever is next (early, or late in the day).
        after = (
            today.filter(therapist__visits__status=VisitStatus.IN_PROGRESS).order_by("planned_start").first()
            or today.order_by("planned_start").first()
        )
        if after is None or after.date != timezone.localdate(timezone=after.organization.tz):
            return []
        therapist = after.therapist
        token = next((token for user, token in tokens if user.pk == therapist.user_id), "<token>")
        now = timezone.now().astimezone(after.organization.tz).replace(second=0, microsecond=0).isoformat()
        json = "-H 'Content-Type: application/json'"
        return [
            "Today is under way, played up to now as planned (what is over is done, what is due checked in). Re-plan it:",
            f"  {therapist.display_name} reports running 25 min late for their next visit (the answer holds the proposal):",
            f'  curl -X POST -H "Authorization: Token {token}" {json} '
            f"-d '{{\"minutes\": 25}}' {base}/api/v1/visits/{after.pk}/late",
            f"  {therapist.display_name} goes home sick instead:",
            f'  curl -X POST -H "Authorization: Token {coordinator}" {json} '
            f"-d '{{\"start\": \"{now}\"}}' {base}/api/v1/therapists/{therapist.pk}/off",
            f'  Read a proposal: curl -H "Authorization: Token {coordinator}" {base}/api/v1/plans/<id>/diff',
            f'  Apply it:        curl -X POST -H "Authorization: Token {coordinator}" {base}/api/v1/plans/<id>/apply',
            "",
        ]
