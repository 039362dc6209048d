"""Reads for notifications: a person's own in-app messages, the webhooks an account may manage."""
from __future__ import annotations

from django.db.models import QuerySet

from dispatch.models import Channel, Notification, Role, WebhookDelivery, WebhookSubscription


def notifications_of(user) -> QuerySet[Notification]:
    return Notification.objects.filter(recipient_id=user.pk, channel=Channel.IN_APP)


def notification_unread_count(*, user) -> int:
    if not user or not user.is_authenticated:
        return 0
    return notifications_of(user).filter(read_at__isnull=True).count()


def webhooks_visible_to(user) -> QuerySet[WebhookSubscription]:
    """Coordinators: every subscription of their organisation; facility staff: their facility's."""
    subscriptions = WebhookSubscription.objects.filter(organization_id=getattr(user, "organization_id", None))
    role = getattr(user, "role", None)
    if role == Role.COORDINATOR:
        return subscriptions
    if role == Role.FACILITY_STAFF:
        return subscriptions.filter(facility_id=user.facility_id)
    return subscriptions.none()


def webhook_deliveries_of(subscription: WebhookSubscription) -> QuerySet[WebhookDelivery]:
    return WebhookDelivery.objects.filter(subscription=subscription)
