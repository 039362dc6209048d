from django import template

from dispatch.selectors.notifications import notification_unread_count

register = template.Library()


@register.inclusion_tag("board/unread_badge.html")
def unread_badge(user) -> dict:
    """The header's badge; the phone app reads the same number from GET /api/v1/notifications/unread-count."""
    return {"unread": notification_unread_count(user=user)}
