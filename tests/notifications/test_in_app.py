"""The in-app list, read marks, the badge count (API and board header) and each person's preferences."""
from __future__ import annotations

import datetime as dt

import time_machine
from django.core import mail
from django.core.management import call_command

from dispatch import models as m
from dispatch.notifications.sms import LocmemSmsBackend
from tests.conftest import _client_for
from tests.notifications.conftest import DAY, at, in_app, travel


def _cancel(ward, visit, callbacks, minute: str = "09:00", day=DAY) -> None:
    with travel(minute, day), callbacks(execute=True):
        response = _client_for(ward.coordinator).post(
            f"/api/v1/visits/{visit.pk}/cancel", {"reason": "Family asked"}, format="json"
        )
    assert response.status_code == 200, response.data


def test_the_list_the_badge_and_marking_read(ward, django_capture_on_commit_callbacks):
    _cancel(ward, ward.home, django_capture_on_commit_callbacks)
    _cancel(ward, ward.ward, django_capture_on_commit_callbacks)
    client = _client_for(ward.t1.user)

    listed = client.get("/api/v1/notifications").data["results"]
    assert [n["items"][0]["visit"] for n in listed] == [ward.ward.pk, ward.home.pk]  # newest first
    assert client.get("/api/v1/notifications/unread-count").data == {"unread": 2}
    assert client.post(f"/api/v1/notifications/{listed[0]['id']}/read").data["read_at"]
    assert client.get("/api/v1/notifications/unread-count").data == {"unread": 1}
    assert [n["id"] for n in client.get("/api/v1/notifications?unread=true").data["results"]] == [listed[1]["id"]]
    assert client.post("/api/v1/notifications/read-all").data == {"marked": 1}
    assert client.get("/api/v1/notifications/unread-count").data == {"unread": 0}
    # Somebody else's notification is not yours to read or mark.
    assert _client_for(ward.t2.user).post(f"/api/v1/notifications/{listed[0]['id']}/read").status_code == 404
    assert _client_for(ward.t2.user).get("/api/v1/notifications").data["results"] == []


def test_the_phone_app_header_shows_the_unread_count(ward, client, django_capture_on_commit_callbacks):
    _cancel(ward, ward.home, django_capture_on_commit_callbacks)
    client.force_login(ward.t1.user)
    page = client.get("/app/").content.decode()
    assert 'data-unread="1"' in page
    client.force_login(ward.t2.user)
    assert 'data-unread="0"' in client.get("/app/").content.decode()


def test_preferences_choose_the_channels(ward, django_capture_on_commit_callbacks):
    client = _client_for(ward.t1.user)
    assert client.get("/api/v1/me/notification-preferences").data["email"] is True
    refused = client.patch("/api/v1/me/notification-preferences", {"sms": True}, format="json")
    assert refused.status_code == 400 and "sms_number" in refused.data
    assert client.patch(
        "/api/v1/me/notification-preferences", {"sms_number": "0123"}, format="json"
    ).status_code == 400
    chosen = client.patch(
        "/api/v1/me/notification-preferences",
        {"sms": True, "sms_number": "+14165550123", "email": False, "in_app": False}, format="json",
    )
    assert chosen.status_code == 200, chosen.data

    _cancel(ward, ward.home, django_capture_on_commit_callbacks)

    assert mail.outbox == [] and in_app(ward.t1.user) == []
    (text,) = LocmemSmsBackend.outbox
    assert text["to"] == "+14165550123" and text["body"].startswith("Rounds: Today 10:40-11:10")
    assert len(text["body"]) <= 320


def test_quiet_hours_hold_tomorrows_news_till_morning_but_not_todays(ward, django_capture_on_commit_callbacks):
    client = _client_for(ward.t1.user)
    assert client.patch(
        "/api/v1/me/notification-preferences", {"quiet_start": "21:00", "quiet_end": "07:00"}, format="json"
    ).status_code == 200
    the_day_before = DAY - dt.timedelta(days=1)
    _cancel(ward, ward.home, django_capture_on_commit_callbacks, minute="22:30", day=the_day_before)
    assert mail.outbox == []
    assert len(in_app(ward.t1.user)) == 1  # in the app at once: it makes no sound
    with travel("06:59"):
        call_command("notifications_run", "--once")
    assert mail.outbox == []
    with travel("07:00"):
        call_command("notifications_run", "--once")
    assert [e.to for e in mail.outbox] == [[ward.t1.user.email]]

    mail.outbox = []
    _cancel(ward, ward.ward, django_capture_on_commit_callbacks, minute="06:30")  # same day: urgent
    assert [e.to for e in mail.outbox if ward.t1.user.email in e.to] == [[ward.t1.user.email]]


def test_messages_left_behind_by_a_stop_after_commit_go_out_on_the_next_run(ward, django_capture_on_commit_callbacks):
    with travel("09:00"), django_capture_on_commit_callbacks(execute=False) as callbacks:  # the process stops here
        _client_for(ward.coordinator).post(f"/api/v1/visits/{ward.home.pk}/cancel", {"reason": "x"}, format="json")
    assert callbacks and mail.outbox == []

    with travel("09:01"):
        call_command("notifications_run", "--once")
        call_command("notifications_run", "--once")
    assert [e.to for e in mail.outbox] == [[ward.t1.user.email]]
    assert mail.outbox[0].extra_headers["Message-ID"].startswith("<notification-")


def test_a_sender_that_died_mid_send_leaves_the_message_to_the_next_once_its_lease_is_over(ward, settings):
    settings.ROUNDS_NOTIFY_LEASE_S = 120
    with travel("09:00"):
        _client_for(ward.coordinator).post(f"/api/v1/visits/{ward.home.pk}/cancel", {"reason": "x"}, format="json")
    email = m.Notification.objects.get(channel=m.Channel.EMAIL)
    m.Notification.objects.filter(pk=email.pk).update(
        status=m.SendStatus.SENDING, attempts=1, lease_until=at("09:02")
    )
    with travel("09:01"):
        call_command("notifications_run", "--once")
    assert mail.outbox == []  # its sender may still be at it
    with travel("09:03"):
        call_command("notifications_run", "--once")
        call_command("notifications_run", "--once")
    assert len(mail.outbox) == 1
    email.refresh_from_db()
    assert (email.status, email.attempts) == (m.SendStatus.SENT, 2)


def test_a_failing_mail_server_is_retried_later(ward, settings, django_capture_on_commit_callbacks):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 1, 2  # nothing listens there
    _cancel(ward, ward.home, django_capture_on_commit_callbacks)
    email = m.Notification.objects.get(channel=m.Channel.EMAIL)
    assert (email.status, email.attempts) == (m.SendStatus.PENDING, 1)
    assert email.last_error.startswith("ConnectionRefusedError")
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    with time_machine.travel(at("09:00:59"), tick=False):
        call_command("notifications_run", "--once")
    assert mail.outbox == []  # not before its minute of back-off is over
    with travel("09:01"):
        call_command("notifications_run", "--once")
    assert len(mail.outbox) == 1
