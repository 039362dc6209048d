"""Secrets never reach a log line: feed URLs carry their token, and a request line would write it out."""
from __future__ import annotations

import logging
import re

from gunicorn import glogging

_FEED_TOKEN = re.compile(r"(/feeds/(?:therapists|facilities)/)[^/\s\"?]+")
# No route takes a credential in its query string; a client that sends one anyway must not have it logged.
_QUERY_SECRET = re.compile(r"([?&](?:token|access_token|auth|key|api_key|secret|password|signature)=)[^&\s\"]*", re.I)
REDACTED = "<redacted>"


def redact(text: str) -> str:
    return _QUERY_SECRET.sub(rf"\1{REDACTED}", _FEED_TOKEN.sub(rf"\1{REDACTED}", text))


class RedactFeedTokens(logging.Filter):
    """Rewrites the formatted message of a record that carries a feed token or a credential parameter."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


class RedactingGunicornLogger(glogging.Logger):
    """gunicorn's logger (``logger_class`` in gunicorn.conf.py) with the filter on its access and error logs.

    Those loggers do not propagate, so the root handler of LOGGING never sees their lines: the filter goes on the
    loggers themselves, where it runs for every line whatever handler (file, stdout, syslog) writes it.
    """

    def setup(self, cfg) -> None:
        super().setup(cfg)
        for log in (self.access_log, self.error_log):
            if not any(isinstance(f, RedactFeedTokens) for f in log.filters):
                log.addFilter(RedactFeedTokens())
