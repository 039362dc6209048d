from __future__ import annotations

from django.core.management.base import BaseCommand
from rest_framework.authtoken.models import Token

from dispatch.demo.seed import DEMO_PASSWORD, DEMO_SLUG
from dispatch.models import Visit


class Command(BaseCommand):
    help = "Print where to look once the demo server is up: pages, API docs, demo users and their tokens."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", default="8000")

    def handle(self, *args, **opts) -> None:
        base = f"http://{opts['host']}:{opts['port']}"
        tokens = Token.objects.filter(user__organization__slug=DEMO_SLUG).select_related("user").order_by("user__id")
        day = Visit.objects.filter(organization__slug=DEMO_SLUG).order_by("-date").values_list("date", flat=True).first()
        coordinator = next((t.key for t in tokens if t.user.role == "coordinator"), "<token>")
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
            *(f"  {t.user.username:<42} {t.user.role:<15} {t.key}" for t in tokens),
            "",
            "Try:",
            f'  curl -H "Authorization: Token {coordinator}" "{base}/api/v1/visits?date={day}"',
            f'  curl -H "Authorization: Token {coordinator}" "{base}/api/v1/schedule?date={day}"',
            "",
        ]
        self.stdout.write("\n".join(lines))
