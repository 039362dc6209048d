from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand

from dispatch.demo.seed import DEMO_PASSWORD, DEMO_SLUG, demo_tokens_issue
from dispatch.models import Visit


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
        ]
        self.stdout.write("\n".join(lines))
