"""In-app notifications, preferences and webhooks."""
from django.urls import path

from api import notifications as views

urlpatterns = [
    path("notifications", views.NotificationListApi.as_view(), name="notification-list"),
    path("notifications/unread-count", views.NotificationUnreadCountApi.as_view(), name="notification-unread-count"),
    path("notifications/read-all", views.NotificationReadAllApi.as_view(), name="notification-read-all"),
    path("notifications/<int:pk>/read", views.NotificationReadApi.as_view(), name="notification-read"),
    path("me/notification-preferences", views.NotificationPreferenceApi.as_view(), name="notification-preferences"),
    path("webhooks", views.WebhookListCreateApi.as_view(), name="webhook-list"),
    path("webhooks/<int:pk>", views.WebhookDetailApi.as_view(), name="webhook-detail"),
    path("webhooks/<int:pk>/rotate-secret", views.WebhookSecretRotateApi.as_view(), name="webhook-rotate-secret"),
    path("webhooks/<int:pk>/deliveries", views.WebhookDeliveryListApi.as_view(), name="webhook-deliveries"),
]
