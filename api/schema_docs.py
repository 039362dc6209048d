"""The API reference as its callers read it: what each operation does, who may call it, what it refuses.

drf-spectacular would take a view's docstring as its description, but those say how the code works, for
its maintainers. The callers' words live here, one entry per operation, applied by a schema hook; a test
fails when an operation has none, so a new route cannot ship undocumented. The refusal examples are
built from the messages the code raises, so they cannot drift from what the API answers.
"""
from __future__ import annotations

from typing import Any

from dispatch.services import booking, plans, visit_actions

COORDINATORS = "Coordinators of the organisation."
ANYONE_SIGNED_IN = "Anyone signed in (coordinators, therapists, facility staff); each sees only their own."

# Resources with list/create/retrieve/update/partial_update/destroy: (noun, plural, who may).
RESOURCES: dict[str, tuple[str, str, str]] = {
    "therapists": ("therapist", "therapists", "Coordinators manage them; therapists read their own record."),
    "facilities": ("facility", "facilities", "Coordinators manage them; facility staff read their own facility."),
    "patients": (
        "patient",
        "patients",
        "Coordinators manage every patient; facility staff their facility's. Health details (contraindications, "
        "diagnosis, referral) are shown only to coordinators and the facility's staff.",
    ),
    "availability_weekly": ("weekly working hours entry", "weekly working hours", "Coordinators manage everyone's; therapists read their own."),
    "availability_exceptions": (
        "day off or extra hours",
        "days off and extra hours",
        "Coordinators manage everyone's; therapists read their own.",
    ),
    "availability_breaks": ("daily break", "daily breaks", "Coordinators manage everyone's; therapists read their own."),
    "webhooks": ("webhook subscription", "webhook subscriptions", COORDINATORS),
}
CRUD = {
    "list": ("List {plural}", "Paged, newest rules first where it matters; only your organisation's {plural}."),
    "create": ("Create a {noun}", "Answers 201 with the {noun}; 400 names every field that is wrong."),
    "retrieve": ("Read a {noun}", "404 when it is not your organisation's (or not yours)."),
    "update": ("Replace a {noun}", "Every field is sent; 400 names every field that is wrong."),
    "partial_update": ("Change a {noun}", "Only the fields sent change; 400 names every field that is wrong."),
    "destroy": ("Delete a {noun}", "Answers 204; 409 when other records still depend on it."),
}

# Everything else: operationId -> (summary, description).
OPERATIONS: dict[str, tuple[str, str]] = {
    "api_v1_auth_token_create": (
        "Sign in for an API token",
        "Username and password for a token; send it as `Authorization: Token <token>`. Only a hash is stored, so "
        "the token is shown this once; it expires after 30 days unused. 400 for a wrong password; 429 with "
        "Retry-After after ten wrong passwords for a username or from one address.",
    ),
    "api_v1_auth_tokens_list": ("List your API tokens", "Your tokens that have not expired, never their secrets."),
    "api_v1_auth_tokens_destroy": ("Revoke one of your API tokens", "Answers 204; 404 for a token that is not yours."),
    "api_v1_me_retrieve": ("Who you are", ANYONE_SIGNED_IN + " Your role, organisation and, for staff, facility."),
    "api_v1_me_feed_retrieve": (
        "Your calendar feed",
        "Therapists and facility staff. The feed's URL is shown only when it is made (a hash is stored); "
        "afterwards whether it is active and since when. POST /me/feed/rotate for a new URL, shown then.",
    ),
    "api_v1_me_feed_rotate_create": (
        "New URL for your calendar feed",
        "The old URL stops working at once (404); the new one is in the answer, this once.",
    ),
    "api_v1_therapists_feed_retrieve": ("A therapist's calendar feed", COORDINATORS + " Whether it is active; never the URL."),
    "api_v1_therapists_feed_destroy": ("Revoke a therapist's calendar feed", COORDINATORS + " Its URLs answer 404 from now on."),
    "api_v1_therapists_feed_rotate_create": (
        "New URL for a therapist's calendar feed",
        COORDINATORS + " The old URL stops at once; the new one is in the answer, this once.",
    ),
    "api_v1_facilities_feed_retrieve": ("A facility's calendar feed", COORDINATORS + " Whether it is active; never the URL."),
    "api_v1_facilities_feed_destroy": (
        "Revoke a facility's calendar feeds",
        COORDINATORS + " The facility's and its staff's URLs answer 404 from now on.",
    ),
    "api_v1_facilities_feed_rotate_create": (
        "New URL for a facility's calendar feed",
        COORDINATORS + " The old URL stops at once; the new one is in the answer, this once.",
    ),
    "api_v1_me_notification_preferences_retrieve": ("Your notification settings", "Your channels and quiet hours (local time)."),
    "api_v1_me_notification_preferences_partial_update": (
        "Change your notification settings",
        "Channels (email, SMS, in-app) and quiet hours; same-day changes to your visits still reach you in quiet hours.",
    ),
    "api_v1_notifications_list": ("Your in-app notifications", "Newest first; `?unread=true` for the unread only."),
    "api_v1_notifications_read_create": ("Mark a notification read", "404 for one that is not yours."),
    "api_v1_notifications_read_all_create": ("Mark all your notifications read", "Answers how many were marked."),
    "api_v1_notifications_unread_count_retrieve": (
        "How many notifications are unread",
        "The number on the screens' badge: your unread in-app notifications.",
    ),
    "api_v1_webhooks_rotate_secret_create": (
        "New signing secret for a webhook",
        "Coordinators, and facility staff for their facility's subscriptions. The new secret is in the answer, this once. The old one keeps signing beside it "
        "(a second `v1` in `X-Rounds-Signature`) for `keep_previous_for_s` (default a day, at most a week; 0 stops "
        "it at once, for a leaked secret). A second rotation drops the oldest: at most two secrets sign.",
    ),
    "api_v1_webhooks_deliveries_list": (
        "Deliveries of a webhook",
        COORDINATORS + " Every delivery of one subscription, newest first, with its last outcome and attempts.",
    ),
    "api_v1_buffers_suggested_retrieve": (
        "Suggested interruption buffers",
        COORDINATORS + " Per care setting, how long visits really ran past their session (median and 80th "
        "percentile of checked-out visits) and the buffer that would cover it.",
    ),
    "api_v1_schedule_list": (
        "Each therapist's day in order",
        "Coordinators: every therapist of the organisation; therapists: themselves. `?date=` (local day); times "
        "in the organisation's offset, travel between visits included.",
    ),
    "api_v1_visits_list": (
        "List visits",
        ANYONE_SIGNED_IN + " Filter by `date`, `status`, `therapist`, `facility`, `patient`. Therapists see the "
        "visits assigned to them; facility staff their facility's.",
    ),
    "api_v1_visits_create": (
        "Request a visit",
        "Coordinators and facility staff (for their own facility's patients). 15-90 minutes, up to 8 windows "
        "with offsets, that do not overlap and are each at least as long as the session. Send an "
        "`Idempotency-Key` to retry safely. 400 names every wrong field; another facility's patient is a 404.",
    ),
    "api_v1_visits_retrieve": (
        "Read a visit",
        ANYONE_SIGNED_IN + " Therapists see their own visits with the precautions they must know, never "
        "contraindication notes or diagnoses; facility staff their facility's.",
    ),
    "api_v1_visits_partial_update": (
        "Change a visit request",
        "Coordinators; facility staff while it is still a request. Booking rules apply to a change of time.",
    ),
    "api_v1_visits_.ics_retrieve": (
        "One visit as a calendar file",
        ANYONE_SIGNED_IN + " A single-event iCalendar file; 409 while the visit is a request with no time yet.",
    ),
    "api_v1_visits_assign_create": (
        "Give or move a visit to a therapist",
        COORDINATORS + " Checks the optimiser's rules (skills, credentials, windows, shift, patient's "
        "preferences, travel from the stop before and to the one after): 400 lists every broken rule in "
        "`extra.reasons`, 409 when the slot is taken. `pinned: true` keeps the next re-plan from moving it.",
    ),
    "api_v1_visits_history_list": ("A visit's history", COORDINATORS + " Who changed what and when, newest first."),
    "api_v1_patients_history_list": ("A patient's history", COORDINATORS + " Who changed what and when, newest first."),
    "api_v1_visits_transition_create": (
        "Change a visit's status",
        "Coordinators: any allowed change. Therapists: confirm, start, complete their own. Facility staff: cancel "
        "a request. 409 for a change the visit's status does not allow. In progress and completed are a check-in "
        "and a check-out at the server's time, under their rules.",
    ),
    "api_v1_visit_series_create": (
        "Request a weekly series of visits",
        "Coordinators and facility staff: one request per chosen weekday between two dates, in one transaction. "
        "Send an `Idempotency-Key` to retry safely.",
    ),
    "api_v1_visits_check_in_create": (
        "Check in to a visit",
        "The therapist of the visit (or a coordinator). From 2 hours before the planned start to the end of the "
        "day; 409 outside that, while the therapist is still in another visit, or when the visit is already under "
        "way. `at` defaults to now; a past `at` is recorded, one more than a few minutes ahead (ROUNDS_CLOCK_SKEW_MIN) "
        "is a 400. `lat`/`lon` far from the place is accepted with a `warning`. Send an `Idempotency-Key` to retry "
        "safely.",
    ),
    "api_v1_visits_check_out_create": (
        "Check out of a visit",
        "The therapist of the visit (or a coordinator). Before half the session it is accepted with a "
        "`warning` and the visit is flagged `ended_early`; 400 on `at` before the check-in time or ahead of the "
        "server's clock, 409 when it is already completed. Send an `Idempotency-Key` to retry safely.",
    ),
    "api_v1_visits_late_create": (
        "Report running late",
        "The therapist (or a coordinator): free from the report plus `minutes`. Answers the visit and a re-plan "
        "proposal of the rest of the day (`replan`), to apply at /plans/{id}/apply. `at`, when the therapist knew, "
        "may be past but not ahead of the server's clock. Send an `Idempotency-Key` to retry safely.",
    ),
    "api_v1_visits_interruption_create": (
        "Record an interruption during the session",
        "The therapist (or a coordinator), during the session: the visit runs longer, the therapist's later "
        "visits are pushed at once (`pushed`) and a re-plan is proposed (`replan`). A resent request counts again "
        "unless it carries the first one's `Idempotency-Key`.",
    ),
    "api_v1_visits_cancel_create": (
        "Cancel a visit",
        "The therapist or a coordinator, with a reason; 409 once it has ended. A visit booked for today comes "
        "back with a re-plan proposal of its therapist's day (`replan`), applied or not like a late report's.",
    ),
    "api_v1_visits_no_show_create": (
        "Mark a visit a no-show",
        "The therapist or a coordinator, with a reason. The answer carries a re-plan proposal of the therapist's "
        "day from the patient's door (`replan`), applied or not like a late report's.",
    ),
    "api_v1_visits_pin_create": ("Pin a visit", COORDINATORS + " Re-plans keep its therapist and time."),
    "api_v1_visits_unpin_create": ("Unpin a visit", COORDINATORS + " Re-plans may move it again."),
    "api_v1_plans_list": ("List plan runs", COORDINATORS + " Filter by `date`, `status`, `kind`; without results."),
    "api_v1_plans_create": (
        "Plan a day",
        COORDINATORS + " Starts the optimiser (202 with Location); follow the run's URL for progress and the "
        "result. 409 while a plan of the same day runs (`extra.url` is that plan). Send an `Idempotency-Key` to "
        "retry safely.",
    ),
    "api_v1_plans_retrieve": (
        "A plan run: status, progress, result",
        COORDINATORS + " The result lists every therapist's route in local time, the KPIs and every visit left "
        "unassigned with its reason; `would_unbook` counts the booked visits applying would drop.",
    ),
    "api_v1_plans_apply_create": (
        "Apply a plan or re-plan",
        COORDINATORS + " The one apply endpoint for day plans and re-plans: every assignment in one transaction, "
        "or none. 409 when a visit changed since the run read it, when it was applied already, or when it would "
        "unbook booked visits without `drop_booked: true`.",
    ),
    "api_v1_plans_diff_retrieve": (
        "What a plan changes",
        COORDINATORS + " Per visit what moves, changes therapist, is added or dropped, in words and with the rule "
        "that forced it; counts, and the therapists and facilities affected.",
    ),
    "api_v1_replan_create": (
        "Re-plan the rest of a day",
        COORDINATORS + " From now (or `now`): started and finished visits stay, the rest may move, changing as "
        "little as it can. Answers the proposal (201); apply it at /plans/{id}/apply.",
    ),
    "api_v1_therapists_off_create": (
        "A therapist goes home",
        COORDINATORS + " Off from a time for the rest of the day (sick, an emergency): a re-plan of their "
        "remaining visits is proposed at once.",
    ),
    "feeds_therapists_.ics_retrieve": (
        "A therapist's calendar feed",
        "No sign-in: the secret in the URL is the credential. The therapist's visits from 14 days back to 60 "
        "ahead, with travel blocks (`?travel=0` leaves them out): time, place, initials, visit kind and a link to "
        "the visit in the app; never precautions, access notes, instructions or diagnoses. Answers 304 to a "
        "conditional GET when nothing changed, 404 for a revoked URL, 429 when polled too often.",
    ),
    "feeds_facilities_.ics_retrieve": (
        "A facility's calendar feed",
        "No sign-in: the secret in the URL is the credential. The facility's booked visits (time, place, initials, "
        "visit kind) with the therapist's first name, nothing clinical; 304 when unchanged, 404 for a revoked "
        "URL, 429 when polled too often.",
    ),
}


def _example(summary: str, body: dict[str, Any]) -> dict[str, Any]:
    return {"description": summary, "content": {"application/json": {"examples": {"example": {"value": body}}}}}


def _conflict(code: str, message: str, **extra) -> dict[str, Any]:
    return {"detail": message, "code": code, **({"extra": extra} if extra else {})}


# What a 409 says, per operation that can give one; messages from the code that raises them.
CONFLICTS: dict[str, dict[str, Any]] = {
    "api_v1_plans_create": _conflict(
        "plan_running", plans.ALREADY_RUNNING.format(plan=41, day="2026-12-02", status="running"),
        url="/api/v1/plans/41",
    ),
    "api_v1_plans_apply_create": _conflict(
        "drops_booked_visits",
        plans.DROPS_BOOKED.format(plan=42, count=2, visits="118, 131"),
        count=2,
        visits=[118, 131],
    ),
    "api_v1_visits_assign_create": _conflict(
        "slot_taken",
        booking.SLOT_TAKEN.format(therapist="Amara Okafor", other=77, start="10:00", end="10:35"),
        reasons=[booking.SLOT_TAKEN.format(therapist="Amara Okafor", other=77, start="10:00", end="10:35")],
    ),
    "api_v1_visits_check_in_create": _conflict(
        "conflict",
        visit_actions.STILL_IN_ANOTHER.format(therapist="Amara Okafor", other=77, at="09:02"),
    ),
    "api_v1_visits_late_create": _conflict(
        "conflict", visit_actions.NOT_UNDER_WAY.format(visit=118, status="completed")
    ),
    "api_v1_visits_interruption_create": _conflict(
        "conflict", visit_actions.NOT_IN_PROGRESS.format(visit=118, status="scheduled")
    ),
    "api_v1_visits_pin_create": _conflict("conflict", visit_actions.NOT_ASSIGNED.format(visit=118)),
}
WRITE_CONFLICT = _conflict("transition_not_allowed", "Visit 118 cannot go from completed to cancelled.")
INVALID = {"duration_min": ["Ensure this value is less than or equal to 90."], "date": ["This field is required."]}
NOT_SIGNED_IN = {"detail": "Authentication credentials were not provided."}
FORBIDDEN = {"detail": "You do not have permission to perform this action."}
NOT_FOUND = {"detail": "Not found."}


def _docs_for(operation_id: str) -> tuple[str, str] | None:
    if operation_id in OPERATIONS:
        return OPERATIONS[operation_id]
    for resource, (noun, plural, who) in RESOURCES.items():
        prefix = f"api_v1_{resource}_"
        action = operation_id.removeprefix(prefix)
        if operation_id.startswith(prefix) and action in CRUD:
            summary, description = CRUD[action]
            return summary.format(noun=noun, plural=plural), f"{who} {description.format(noun=noun, plural=plural)}"
    return None


def documented_operations(result: dict[str, Any], generator, request, public) -> dict[str, Any]:
    """Summary, description and the refusals (with example bodies) of every operation."""
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            docs = _docs_for(operation["operationId"])
            if docs:
                operation["summary"], operation["description"] = docs
            responses = operation.setdefault("responses", {})
            public_route = operation["operationId"] == "api_v1_auth_token_create" or path.startswith("/feeds/")
            writes = method in ("post", "put", "patch")
            if writes or operation.get("parameters"):
                responses.setdefault("400", _example("The input is wrong: each field with its messages.", INVALID))
            if not public_route:
                responses.setdefault("401", _example("No valid token or session.", NOT_SIGNED_IN))
                responses.setdefault("403", _example("Your role may not do this.", FORBIDDEN))
            if "{" in path:
                responses.setdefault("404", _example("Not found, or not yours to see.", NOT_FOUND))
            conflict = CONFLICTS.get(operation["operationId"])
            if conflict is None and writes and "/visits/" in path:
                conflict = WRITE_CONFLICT
            if conflict is not None:
                responses.setdefault("409", _example("The request collides with the current state.", conflict))
    return result
