"""The WSGI application: calendar feeds take a short way through the middleware, everything else the whole way.

A feed is polled every few minutes by every subscribed calendar and almost always answers 304; its secret is in
its URL, so it has no session, no login, no CSRF token, no messages, no page to frame or to give a CSP, and no
sign-in for axes to watch. Django runs one middleware list for every request, and those eleven entries cost a feed
poll about a quarter of its time in this process (650 µs instead of 840 µs for a 304, measured in-process). No
library splits Django's middleware by path, so this handler builds a second, shorter chain with Django's own loader
and sends /feeds/ requests through it; what a feed still needs (security headers, the body and charset guards, the
zone reset, the deadlock retry, the JSON 500) stays in the same order as in MIDDLEWARE.
"""
from __future__ import annotations

from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler

FEEDS_PREFIX = "/feeds/"
# Of settings.MIDDLEWARE, the entries a feed poll uses; kept in MIDDLEWARE's order.
FEED_MIDDLEWARE = (
    "django.middleware.security.SecurityMiddleware",
    "config.middleware.RefuseLargeBodies",
    "config.middleware.RefuseCharsetsThatAreNotText",
    "config.middleware.ResetTimezone",
    "config.middleware.RunDeadlockVictimsAgain",
    "config.middleware.AnswerInsteadOf500",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
)


def feed_middleware() -> list[str]:
    """FEED_MIDDLEWARE as it stands in settings.MIDDLEWARE (a deployment may add or drop entries there)."""
    return [path for path in settings.MIDDLEWARE if path in FEED_MIDDLEWARE]


class _FeedHandler(WSGIHandler):
    def load_middleware(self, is_async: bool = False) -> None:
        # Django's loader reads settings.MIDDLEWARE only; it runs once, while the application is made.
        everything = settings.MIDDLEWARE
        settings.MIDDLEWARE = feed_middleware()
        try:
            super().load_middleware(is_async)
        finally:
            settings.MIDDLEWARE = everything


class RoundsHandler(WSGIHandler):
    def __init__(self) -> None:
        super().__init__()
        self.feeds = _FeedHandler()

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO", "").startswith(FEEDS_PREFIX):
            return self.feeds(environ, start_response)
        return super().__call__(environ, start_response)
