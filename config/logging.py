import logging
import re

# Feed URLs carry a secret; the request line of every access log would leak it.
_FEED_TOKEN = re.compile(r"(/feeds/(?:therapists|facilities)/)[^/\s\"?]+")


class RedactFeedTokens(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = _FEED_TOKEN.sub(r"\1<redacted>", message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True
