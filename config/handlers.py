"""The WSGI application: calendar feeds take a short way through the middleware, everything else the whole way.

A feed is polled every few minutes by every subscribed calendar and almost always answers 304; its secret is in
its URL, so it has no session, no login, no CSRF token, no messages, no page to frame or to give a CSP, and no
sign-in for axes to watch. Django runs one middleware list for every request, and the twelve entries a feed does
not use cost its poll about a quarter of its time in this process (650 µs instead of 840 µs for a 304, measured
in-process). No library splits Django's middleware by path, so this handler builds a second, shorter chain with
Django's own loader and sends /feeds/ requests through it: settings.ROUNDS_FEED_MIDDLEWARE, the head of MIDDLEWARE
(security headers, the body and charset guards, the zone reset, the deadlock retry, the JSON 500).
"""
from __future__ import annotations

from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler

FEEDS_PREFIX = "/feeds/"


class _FeedHandler(WSGIHandler):
    def load_middleware(self, is_async: bool = False) -> None:
        # Django's loader reads settings.MIDDLEWARE only; it runs once, while the application is made.
        everything = settings.MIDDLEWARE
        settings.MIDDLEWARE = settings.ROUNDS_FEED_MIDDLEWARE
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
