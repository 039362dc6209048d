from __future__ import annotations

from typing import Any


class DispatchError(Exception):
    """A broken business rule. The API answers 400 unless a subclass says otherwise."""

    status_code = 400
    code = "dispatch_error"

    def __init__(self, message: str, extra: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra or {}


class ConflictError(DispatchError):
    """The request is valid but collides with the current state (409)."""

    status_code = 409
    code = "conflict"


class TransitionNotAllowed(ConflictError):
    code = "transition_not_allowed"


class SlotTaken(ConflictError):
    code = "slot_taken"


class PlanAlreadyRunning(ConflictError):
    """``extra`` names the running plan (``plan``) or plans (``plans``)."""

    code = "plan_running"


class BookedVisitsDropped(ConflictError):
    """Applying would unbook visits a therapist holds; the caller must say so explicitly."""

    code = "drops_booked_visits"
