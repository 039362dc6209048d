"""Who changed what and when: simple_history records read as a list of changes."""
from __future__ import annotations

from typing import Any

from django.db.models import Model

HISTORY_TYPES = {"+": "created", "~": "changed", "-": "deleted"}


def history_list(*, instance: Model) -> list[dict[str, Any]]:
    """Newest first; each record names the user, the reason and every field that changed."""
    records = list(instance.history.select_related("history_user").order_by("-history_date", "-history_id"))
    entries = []
    # Rows written in bulk (the demo's, an import's) have no history at all: an empty list, not an error.
    for record, previous in zip(records, [*records[1:], None][: len(records)], strict=True):
        changes = []
        if previous is not None:
            delta = record.diff_against(previous)
            changes = [{"field": c.field, "old": c.old, "new": c.new} for c in delta.changes]
        entries.append(
            {
                "at": record.history_date,
                "by": record.history_user.get_username() if record.history_user else None,
                "type": HISTORY_TYPES[record.history_type],
                "reason": record.history_change_reason or "",
                "changes": changes,
            }
        )
    return entries
