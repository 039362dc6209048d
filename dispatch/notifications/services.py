"""Writes a person makes to their notifications: read marks, preferences, webhook subscriptions."""
from __future__ import annotations

import datetime as dt
import secrets
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from dispatch.models import NotificationPreference, Role, WebhookSubscription
from dispatch.notifications.webhooks import webhook_url_problem
from dispatch.selectors.notifications import notifications_of

if TYPE_CHECKING:
    from dispatch.models import Facility, Notification, User

FACILITY_OF_ANOTHER_ORG = "Facility {facility} belongs to another organisation."
STAFF_OWN_FACILITY = "Facility staff subscribe for their own facility only."


@transaction.atomic
def notification_mark_read(*, user: User, notification: Notification | None = None) -> int:
    """Mark one notification (or, with none given, all of ``user``'s) read; returns how many changed."""
    unread = notifications_of(user).filter(read_at__isnull=True)
    if notification is not None:
        unread = unread.filter(pk=notification.pk)
    return unread.update(read_at=timezone.now())


@transaction.atomic
def notification_preference_update(*, user: User, **changes: Any) -> NotificationPreference:
    preference, _ = NotificationPreference.objects.select_for_update().get_or_create(user=user)
    for key, value in changes.items():
        setattr(preference, key, value)
    if preference.sms and not preference.sms_number:
        raise ValidationError({"sms_number": "A number is needed to receive SMS."})
    if (preference.quiet_start is None) != (preference.quiet_end is None):
        raise ValidationError({"quiet_end": "Give both ends of the quiet hours, or neither."})
    if preference.quiet_start is not None and preference.quiet_start == preference.quiet_end:
        raise ValidationError({"quiet_end": "Quiet hours that end when they start are empty; give another end."})
    preference.full_clean()
    preference.save()
    return preference


def _check_scope(*, user: User, facility: Facility | None) -> Facility | None:
    if user.role == Role.FACILITY_STAFF:
        if facility is not None and facility.pk != user.facility_id:
            raise ValidationError({"facility": STAFF_OWN_FACILITY})
        return user.facility
    if facility is not None and facility.organization_id != user.organization_id:
        raise ValidationError({"facility": FACILITY_OF_ANOTHER_ORG.format(facility=facility.pk)})
    return facility


def _check_url(url: str) -> None:
    problem = webhook_url_problem(url)
    if problem:
        raise ValidationError({"url": problem})


@transaction.atomic
def webhook_subscription_create(
    *, user: User, url: str, events: list[str], facility: Facility | None = None
) -> WebhookSubscription:
    _check_url(url)
    subscription = WebhookSubscription(
        organization_id=user.organization_id,
        facility=_check_scope(user=user, facility=facility),
        url=url,
        events=sorted(set(events)),
        secret=secrets.token_hex(32),
        created_by=user,
    )
    subscription.full_clean(exclude=["created_by"])
    subscription.save()
    return subscription


WEBHOOK_SECRET_OVERLAP_MAX = dt.timedelta(days=7)


@transaction.atomic
def webhook_secret_rotate(*, subscription: WebhookSubscription, keep_previous_for: dt.timedelta) -> WebhookSubscription:
    """A new secret signs from now on; the one it replaces signs beside it for ``keep_previous_for``.

    A leaked secret is rotated with no overlap; a planned change gives receivers the overlap to switch. A
    rotation during an overlap drops the oldest secret: at most two ever sign.
    """
    subscription = WebhookSubscription.objects.select_for_update().get(pk=subscription.pk)
    subscription.previous_secret = subscription.secret if keep_previous_for else ""
    subscription.previous_secret_expires_at = timezone.now() + keep_previous_for if keep_previous_for else None
    subscription.secret = secrets.token_hex(32)
    subscription.save(update_fields=["secret", "previous_secret", "previous_secret_expires_at"])
    return subscription


@transaction.atomic
def webhook_subscription_update(*, subscription: WebhookSubscription, **changes: Any) -> WebhookSubscription:
    """A changed URL is checked again; turning a disabled subscription back on clears its failure count."""
    subscription = WebhookSubscription.objects.select_for_update().get(pk=subscription.pk)
    if "url" in changes:
        _check_url(changes["url"])
    if "events" in changes:
        changes["events"] = sorted(set(changes["events"]))
    if changes.get("active") and not subscription.active:
        subscription.consecutive_failures, subscription.disabled_at, subscription.disabled_reason = 0, None, ""
    for key, value in changes.items():
        setattr(subscription, key, value)
    subscription.full_clean(exclude=["created_by"])
    subscription.save()
    return subscription
