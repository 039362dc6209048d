"""Bad input is a 4xx with JSON, never a 5xx: ids beyond 64 bits, words where ids go, JSON nested thousands
of levels deep, and a database locked by someone else (503 with Retry-After, nothing half-written)."""
from __future__ import annotations

import threading

import pytest
from django.db import connection
from django.test import Client

from dispatch import models as m
from tests import factories as f

HUGE = "99999999999999999999999"


@pytest.mark.parametrize(
    "path",
    [
        f"/api/v1/visits?therapist={HUGE}",
        f"/api/v1/visits?facility={HUGE}",
        f"/api/v1/visits?patient={HUGE}",
        f"/api/v1/visits?patient=-{HUGE}",
        "/api/v1/visits?therapist=0",
        f"/api/v1/patients?facility={HUGE}",
        f"/api/v1/availability/weekly?therapist={HUGE}",
        f"/api/v1/availability/exceptions?therapist={HUGE}",
        f"/api/v1/availability/breaks?therapist={HUGE}",
        f"/api/v1/schedule?date=2030-01-02&therapist={HUGE}",
    ],
)
def test_an_id_filter_beyond_64_bits_is_a_400_naming_the_parameter(world, path):
    response = world.clients["coordinator"].get(path)
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/json"
    name = path.split("?")[1].split("&")[-1].split("=")[0]
    assert name in response.json()


def test_an_id_of_another_organisation_in_a_filter_reads_like_none(world):
    other_therapist = f.TherapistFactory()
    response = world.clients["coordinator"].get(f"/api/v1/availability/weekly?therapist={other_therapist.pk}")
    assert response.status_code == 200 and response.json()["count"] == 0


@pytest.mark.parametrize(
    "method, path",
    [
        ("get", f"/api/v1/visits/{HUGE}"),
        ("get", f"/api/v1/patients/{HUGE}"),
        ("get", f"/api/v1/therapists/{HUGE}"),
        ("get", f"/api/v1/plans/{HUGE}"),
        ("post", f"/api/v1/plans/{HUGE}/apply"),
        ("post", f"/api/v1/visits/{HUGE}/check-in"),
        ("get", f"/api/v1/visits/{HUGE}/history"),
        ("get", "/api/v1/visits/abc"),
        ("get", "/api/v1/patients/abc"),
        ("post", "/api/v1/plans/abc/apply"),
        ("get", "/api/v1/visits/12abc/history"),
        ("get", "/api/v1/no-such-thing"),
        ("delete", "/api/v1/auth/tokens/no-such-token"),
        ("delete", "/api/v1/auth/tokens/no%00such"),  # PostgreSQL refuses NUL in text: it reached it as a 500
    ],
)
def test_a_path_id_that_cannot_exist_is_a_json_404(world, method, path):
    response = getattr(world.clients["coordinator"], method)(path, {}, format="json")
    assert response.status_code == 404, response.content
    assert response["Content-Type"] == "application/json"
    assert response.json()["detail"]


def test_a_body_id_beyond_64_bits_is_a_404_like_any_unknown_id(world):
    body = {"patient": int(HUGE), "date": "2030-01-02", "duration_min": 30,
            "windows": [{"start": "2030-01-02T09:00:00-05:00", "end": "2030-01-02T12:00:00-05:00"}]}
    response = world.clients["coordinator"].post("/api/v1/visits", body, format="json")
    assert response.status_code == 404 and "was not found" in response.json()["detail"]


def test_an_admin_url_with_an_id_beyond_64_bits_is_answered_as_an_unknown_id(client, organization):
    """The change form does what Django's admin does for any unknown id (back to the index, saying so); the history
    page, ours, is a 404. Neither is a 500."""
    from django.contrib.auth.models import Permission

    user = f.UserFactory(organization=organization, is_staff=True)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="dispatch"))
    client.force_login(user)
    change = client.get(f"/admin/dispatch/visit/{HUGE}/change/", follow=True)
    assert change.redirect_chain == [("/admin/", 302)]
    assert [str(message) for message in change.context["messages"]] == [
        f"visit with ID “{HUGE}” doesn’t exist. Perhaps it was deleted?"
    ]
    assert client.get(f"/admin/dispatch/patient/{HUGE}/history/").status_code == 404


@pytest.mark.parametrize("body", ["[" * 5000, '{"a":' * 5000, '{"windows": ' + "[" * 100 + "]" * 100 + "}"])
@pytest.mark.parametrize("path", ["/api/v1/visits", "/api/v1/plans", "/api/v1/auth/token"])
def test_json_nested_deeper_than_the_limit_is_a_400(world, body, path):
    response = world.clients["coordinator"].post(path, body, content_type="application/json")
    assert response.status_code == 400, response.content
    assert "nested deeper than" in response.json()["detail"]


def test_json_nested_within_the_limit_is_read_as_usual(world):
    body = '{"date": "2030-01-02", "therapists": [[[[1]]]]}'
    response = world.clients["coordinator"].post("/api/v1/plans", body, content_type="application/json")
    assert response.status_code == 400 and "therapists" in response.json()


@pytest.mark.django_db(transaction=True)
def test_a_database_locked_by_another_writer_is_a_503_with_retry_after_and_nothing_written(settings):
    """A second connection holds a write lock on the plan runs while a coordinator starts a plan."""
    settings.ROUNDS_PLAN_IN_PROCESS = "thread"
    coordinator = f.UserFactory()
    client = Client()
    client.force_login(coordinator)
    locked, release, done = threading.Event(), threading.Event(), threading.Event()

    def hold_the_lock() -> None:
        from django.db import connections

        other = connections.create_connection("default")
        try:
            with other.cursor() as cursor:
                if other.vendor == "postgresql":
                    other.set_autocommit(False)
                    cursor.execute(f"LOCK TABLE {m.PlanRun._meta.db_table} IN ACCESS EXCLUSIVE MODE")
                else:
                    cursor.execute("BEGIN IMMEDIATE")
                    cursor.execute(f"DELETE FROM {m.PlanRun._meta.db_table} WHERE id = -1")
                locked.set()
                release.wait(30)
                cursor.execute("ROLLBACK")
        finally:
            other.close()
            done.set()

    holder = threading.Thread(target=hold_the_lock)
    holder.start()
    assert locked.wait(30)
    try:
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("SET lock_timeout = '300ms'")
            else:
                cursor.execute("PRAGMA busy_timeout = 300")
        response = client.post("/api/v1/plans", {"date": "2030-01-02"}, content_type="application/json")
    finally:
        release.set()
        holder.join(30)
        with connection.cursor() as cursor:
            restore = "SET lock_timeout = 0" if connection.vendor == "postgresql" else "PRAGMA busy_timeout = 20000"
            cursor.execute(restore)
    assert response.status_code == 503, response.content
    assert response["Retry-After"] == "5"
    assert response.json()["code"] == "database_busy"
    assert not m.PlanRun.objects.exists()


@pytest.mark.parametrize("charset", ["rot13", "base64", "hex", "zlib_codec"])
@pytest.mark.parametrize(
    "content_type, body",
    [
        ("application/json", '{"username": "x", "password": "y"}'),
        ("application/x-www-form-urlencoded", "username=x&password=y"),
        ("multipart/form-data; boundary=B", '--B\r\nContent-Disposition: form-data; name="username"\r\n\r\nx\r\n--B--\r\n'),
    ],
)
def test_a_body_in_a_charset_that_is_not_text_is_a_415_naming_it(db, anonymous_client, charset, content_type, body):
    response = anonymous_client.post("/api/v1/auth/token", body, content_type=f"{content_type}; charset={charset}")
    assert response.status_code == 415, response.content
    assert f"Charset '{charset}' is not a text encoding" in response.json()["detail"]


def test_a_json_write_in_a_charset_that_is_not_text_is_a_415(world):
    response = world.clients["coordinator"].post(
        "/api/v1/plans", '{"date": "2030-01-02"}', content_type="application/json; charset=rot13"
    )
    assert response.status_code == 415 and "rot13" in response.json()["detail"]


def test_a_board_login_form_in_a_charset_that_is_not_text_is_a_415(db, client):
    # generic(), as post() would encode the body in that charset itself
    response = client.generic(
        "POST", "/accounts/login/", b"username=x&password=y",
        content_type="application/x-www-form-urlencoded; charset=rot13",
    )
    assert response.status_code == 415 and "rot13" in response.json()["detail"]


def test_a_json_body_in_another_text_charset_is_read(db, anonymous_client):
    body = '{"username": "nobody", "password": "wrong"}'.encode("utf-16")
    response = anonymous_client.post("/api/v1/auth/token", body, content_type="application/json; charset=utf-16")
    assert response.status_code == 400, response.content
    assert "parse error" not in str(response.json())


@pytest.mark.parametrize("url", ["/api/v1/therapists/{therapist}/off", "/api/v1/replan"])
def test_a_multipart_body_with_no_part_its_boundary_opens_is_a_400_and_nothing_is_done(world, url):
    therapist = world.therapist
    response = world.clients["coordinator"].generic(
        "POST", url.format(therapist=therapist.pk), b"{", content_type="multipart/form-data; boundary=x"
    )
    assert response.status_code == 400, response.content
    assert "no part" in response.json()["detail"]
    assert not m.AvailabilityException.objects.filter(therapist=therapist).exists()
    assert not m.PlanRun.objects.exists()


def test_a_well_formed_multipart_sign_in_still_works(db, anonymous_client):
    user = f.UserFactory()
    response = anonymous_client.post("/api/v1/auth/token", {"username": user.username, "password": "pw-rounds-test"},
                                     format="multipart")
    assert response.status_code == 200, response.content
