"""JSON bodies with a bounded nesting depth, and multipart bodies that must hold what they say.

Python's json module recurses once per level, so ``[`` repeated a few thousand times ends in a
RecursionError (a 500). No request this API takes nests deeper than a few levels.
"""
from __future__ import annotations

import io
import re
from itertools import accumulate

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser, MultiPartParser

MAX_DEPTH = 20
TOO_DEEP = f"JSON nested deeper than {MAX_DEPTH} levels is not accepted."
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_A_BRACKET = re.compile(r"[^\[\]{}]+")


def nesting_depth(text: str) -> int:
    """How deep brackets outside strings nest: regular expressions and a running sum, no recursion."""
    brackets = _NOT_A_BRACKET.sub("", _STRING.sub("", text))
    return max(accumulate(1 if b in "[{" else -1 for b in brackets), default=0)


class BoundedJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        body = stream.read() if stream is not None else b""
        encoding = (parser_context or {}).get("encoding", "utf-8")
        try:
            text = body.decode(encoding)
        except UnicodeDecodeError as exc:
            raise ParseError(f"JSON parse error - {exc}") from exc
        if nesting_depth(text) > MAX_DEPTH:
            raise ParseError(TOO_DEEP)
        return super().parse(io.BytesIO(body), media_type, parser_context)


NO_PART = "The multipart body holds no part this boundary opens; nothing was read from it."


class StrictMultiPartParser(MultiPartParser):
    """Django reads a multipart body it cannot split on its boundary as no fields at all, so a broken one was taken
    as an empty request and acted on (a therapist marked off from now). A body with content but no part is a 400."""

    def parse(self, stream, media_type=None, parser_context=None):
        parsed = super().parse(stream, media_type, parser_context)
        meta = parser_context["request"].META if parser_context and "request" in parser_context else {}
        try:
            length = int(meta.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length and not parsed.data and not parsed.files:
            raise ParseError(NO_PART)
        return parsed
