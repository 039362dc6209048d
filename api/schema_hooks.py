"""OpenAPI post-processing."""
from __future__ import annotations

from typing import Any

# Our times of day (shifts, breaks, visiting hours) are local wall-clock times with no offset.
# JSON Schema's "time" format (RFC 3339 full-time) demands an offset, so clients validating
# against the schema would reject every correct answer; RFC 3339 calls ours "partial-time".
PARTIAL_TIME = {"type": "string", "format": "partial-time", "pattern": r"^\d{2}:\d{2}(:\d{2}(\.\d+)?)?$"}


def local_times_without_offset(result: dict[str, Any], generator, request, public) -> dict[str, Any]:
    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            if node.get("format") == "time" and node.get("type") == "string":
                return {**{k: v for k, v in node.items() if k != "format"}, **PARTIAL_TIME}
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    return walk(result)
