"""JSON bodies with a bounded nesting depth.

Python's json module recurses once per level, so ``[`` repeated a few thousand times ends in a
RecursionError (a 500). No request this API takes nests deeper than a few levels.
"""
from __future__ import annotations

import io
import re
from itertools import accumulate

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

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
