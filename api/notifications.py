"""In-app notifications (list, mark read, unread count), preferences, webhook subscriptions and deliveries."""
from __future__ import annotations

import datetime as dt

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.generics import ListAPIView
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from api.fields import ScopedPrimaryKeyRelatedField
from api.filtering import KnownParamsFilterBackend
from api.inputs import InputModelSerializer, InputSerializer
from api.permissions import STAFF, RoleAllowed
from dispatch.models import (
    Facility,
    Notification,
    NotificationPreference,
    WebhookDelivery,
    WebhookEvent,
    WebhookSubscription,
)
from dispatch.notifications import services
from dispatch.selectors import scoping
from dispatch.selectors.notifications import (
    notification_unread_count,
    notifications_of,
    webhook_deliveries_of,
    webhooks_visible_to,
)


class NotificationOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Notification
        fields = ["id", "event", "urgent", "subject", "body", "link", "items", "created_at", "read_at"]


class NotificationListApi(ListAPIView):
    """Your own in-app notifications, newest first; ?unread=true for the unread ones."""

    permission_classes = [IsAuthenticated]
    serializer_class = NotificationOutputSerializer
    filter_backends = [KnownParamsFilterBackend]
    query_params_taken = ("unread",)

    class FilterSerializer(serializers.Serializer):
        unread = serializers.BooleanField(required=False, default=False)

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Notification.objects.none()
        params = self.FilterSerializer(data=self.request.query_params)
        params.is_valid(raise_exception=True)
        notifications = notifications_of(self.request.user)
        if params.validated_data["unread"]:
            notifications = notifications.filter(read_at__isnull=True)
        return notifications

    @extend_schema(parameters=[FilterSerializer])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class NotificationUnreadCountApi(APIView):
    """The badge: how many of your in-app notifications are unread."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses=inline_serializer("UnreadCount", {"unread": serializers.IntegerField()}))
    def get(self, request) -> Response:
        return Response({"unread": notification_unread_count(user=request.user)})


class NotificationReadApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses=NotificationOutputSerializer)
    def post(self, request, pk: int) -> Response:
        notification = get_object_or_404(notifications_of(request.user), pk=pk)
        services.notification_mark_read(user=request.user, notification=notification)
        notification.refresh_from_db()
        return Response(NotificationOutputSerializer(notification).data)


class NotificationReadAllApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses=inline_serializer("MarkedRead", {"marked": serializers.IntegerField()}))
    def post(self, request) -> Response:
        return Response({"marked": services.notification_mark_read(user=request.user)})


class PreferenceSerializer(InputModelSerializer):
    class Meta:
        model = NotificationPreference
        fields = ["email", "sms", "in_app", "sms_number", "quiet_start", "quiet_end"]
        extra_kwargs = {"sms_number": {"validators": []}}

    def validate_sms_number(self, value: str) -> str:
        if value and not (value.startswith("+") and value[1:].isdigit() and 8 <= len(value) <= 16):
            raise serializers.ValidationError("Give the number in E.164 form, e.g. +14165550123.")
        return value


class NotificationPreferenceApi(APIView):
    """Your channels and quiet hours (local time; same-day changes ignore quiet hours)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses=PreferenceSerializer)
    def get(self, request) -> Response:
        preference = NotificationPreference.objects.filter(user=request.user).first()
        return Response(PreferenceSerializer(preference or NotificationPreference(user=request.user)).data)

    @extend_schema(request=PreferenceSerializer, responses=PreferenceSerializer)
    def patch(self, request) -> Response:
        serializer = PreferenceSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        preference = services.notification_preference_update(user=request.user, **serializer.validated_data)
        return Response(PreferenceSerializer(preference).data)


class WebhookInputSerializer(InputSerializer):
    url = serializers.URLField(max_length=500)
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=WebhookEvent.choices), allow_empty=False, max_length=len(WebhookEvent)
    )
    facility = ScopedPrimaryKeyRelatedField(
        scope=scoping.facilities_visible_to, model=Facility, required=False, allow_null=True,
        help_text="Only this facility's visits; blank: the whole organisation (coordinators only).",
    )


class WebhookUpdateSerializer(InputSerializer):
    url = serializers.URLField(max_length=500, required=False)
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=WebhookEvent.choices), allow_empty=False, required=False,
        max_length=len(WebhookEvent),
    )
    active = serializers.BooleanField(required=False, help_text="true turns a disabled subscription back on.")


class WebhookOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookSubscription
        fields = [
            "id", "facility", "url", "events", "active", "consecutive_failures", "disabled_at", "disabled_reason",
            "created_at",
        ]


class WebhookCreatedSerializer(WebhookOutputSerializer):
    class Meta(WebhookOutputSerializer.Meta):
        fields = [*WebhookOutputSerializer.Meta.fields, "secret"]
        extra_kwargs = {"secret": {"help_text": "Shown this once: it signs every delivery (HMAC-SHA256)."}}


class WebhookListCreateApi(ListAPIView):
    permission_classes = [RoleAllowed]
    roles = {"get": STAFF, "post": STAFF}
    serializer_class = WebhookOutputSerializer
    filter_backends = [KnownParamsFilterBackend]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return WebhookSubscription.objects.none()
        return webhooks_visible_to(self.request.user)

    @extend_schema(request=WebhookInputSerializer, responses={201: WebhookCreatedSerializer})
    def post(self, request) -> Response:
        serializer = WebhookInputSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        subscription = services.webhook_subscription_create(user=request.user, **serializer.validated_data)
        return Response(WebhookCreatedSerializer(subscription).data, status=201)


class WebhookDetailApi(APIView):
    permission_classes = [RoleAllowed]
    roles = {"get": STAFF, "patch": STAFF, "delete": STAFF}

    @extend_schema(responses=WebhookOutputSerializer)
    def get(self, request, pk: int) -> Response:
        return Response(WebhookOutputSerializer(get_object_or_404(webhooks_visible_to(request.user), pk=pk)).data)

    @extend_schema(request=WebhookUpdateSerializer, responses=WebhookOutputSerializer)
    def patch(self, request, pk: int) -> Response:
        subscription = get_object_or_404(webhooks_visible_to(request.user), pk=pk)
        serializer = WebhookUpdateSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        subscription = services.webhook_subscription_update(subscription=subscription, **serializer.validated_data)
        return Response(WebhookOutputSerializer(subscription).data)

    @extend_schema(responses={204: None})
    def delete(self, request, pk: int) -> Response:
        get_object_or_404(webhooks_visible_to(request.user), pk=pk).delete()
        return Response(status=204)


class WebhookRotateSerializer(InputSerializer):
    keep_previous_for_s = serializers.IntegerField(
        min_value=0, max_value=int(services.WEBHOOK_SECRET_OVERLAP_MAX.total_seconds()), default=86_400,
        help_text="How long the old secret still signs beside the new one (0: stops at once, for a leaked secret).",
    )


class WebhookRotatedSerializer(WebhookCreatedSerializer):
    class Meta(WebhookCreatedSerializer.Meta):
        fields = [*WebhookCreatedSerializer.Meta.fields, "previous_secret_expires_at"]
        extra_kwargs = {
            "secret": {"help_text": "Shown this once: it signs every delivery from now on."},
            "previous_secret_expires_at": {"help_text": "Until then deliveries also carry the old secret's v1."},
        }


class WebhookSecretRotateApi(APIView):
    """A new signing secret, shown this once; the old one keeps signing beside it for the overlap asked."""

    permission_classes = [RoleAllowed]
    roles = {"post": STAFF}

    @extend_schema(request=WebhookRotateSerializer, responses=WebhookRotatedSerializer)
    def post(self, request, pk: int) -> Response:
        subscription = get_object_or_404(webhooks_visible_to(request.user), pk=pk)
        serializer = WebhookRotateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        subscription = services.webhook_secret_rotate(
            subscription=subscription, keep_previous_for=dt.timedelta(seconds=serializer.validated_data["keep_previous_for_s"])
        )
        return Response(WebhookRotatedSerializer(subscription).data)


class WebhookDeliveryOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookDelivery
        fields = [
            "id", "delivery_id", "event", "payload", "status", "attempts", "next_attempt_at", "last_status_code",
            "last_error", "delivered_at", "created_at",
        ]


class WebhookDeliveryListApi(ListAPIView):
    """Every delivery of one subscription, newest first, with its last outcome."""

    permission_classes = [RoleAllowed]
    roles = {"get": STAFF}
    serializer_class = WebhookDeliveryOutputSerializer
    filter_backends = [KnownParamsFilterBackend]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return WebhookDelivery.objects.none()
        return webhook_deliveries_of(get_object_or_404(webhooks_visible_to(self.request.user), pk=self.kwargs["pk"]))
