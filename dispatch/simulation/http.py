"""One user's HTTP client against the production URLconf, as a real client signs in and calls it.

Every answer is checked on the spot: no 5xx (an exception escaping a view counts as one), and a
refusal is a 4xx that says why in JSON. Each call is timed and logged for the report and replays.
"""

from __future__ import annotations

import json
import time
import traceback
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.urls import Resolver404, resolve
from rest_framework.test import APIClient

if TYPE_CHECKING:
    from dispatch.simulation.generate import Person
    from dispatch.simulation.record import Recorder

TOKEN_PATH = "/api/v1/auth/token"


@dataclass
class Reply:
    status: int
    content: bytes
    headers: dict[str, str]
    data: Any = None  # parsed JSON, when the answer was JSON

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


def route_of(path: str) -> str:
    try:
        return resolve(path.split("?", 1)[0]).route
    except Resolver404:
        return "(no route)"


def refusal_reason(reply: Reply) -> str | None:
    """The refusal's reason as the report counts it, or None when it gives none a client can read."""
    data = reply.data
    if isinstance(data, dict) and data:
        detail = data.get("detail")
        if isinstance(detail, str) and detail.strip():
            return f"{reply.status} {data.get('code') or detail[:60]}"
        if all(isinstance(v, list | dict | str) and v for v in data.values()):
            return f"{reply.status} invalid: {', '.join(sorted(map(str, data)))}"
    if isinstance(data, list) and data and all(isinstance(v, str) and v for v in data):
        return f"{reply.status} {data[0][:60]}"
    return None


class Actor:
    role: str

    def __init__(self, *, person: Person, recorder: Recorder, address: str, on_write, clock=None) -> None:
        self.person = person
        self.clock = clock
        self.recorder = recorder
        self.on_write = on_write  # called with the agency index after every accepted write
        self.client = APIClient(REMOTE_ADDR=address)
        self.retired = False

    @property
    def name(self) -> str:
        return self.person.username

    def login(self, password: str) -> None:
        reply = self.call("POST", TOKEN_PATH, {"username": self.person.username, "password": password})
        assert reply.ok, f"{self.name} could not sign in: {reply.status} {reply.content[:200]!r}"
        token = reply.data.get("token") or reply.data.get("key")
        self.client.credentials(HTTP_AUTHORIZATION=f"Token {token}")

    def call(
        self, method: str, path: str, data: Any = None, *, headers: dict[str, str] | None = None, raw: str | None = None
    ) -> Reply:
        extra = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in (headers or {}).items()}
        send = getattr(self.client, method.lower())
        if self.clock is not None:
            self.clock.tick()
        started = time.perf_counter()
        try:
            if raw is not None:
                response = send(path, raw, content_type="application/json", **extra)
            elif method == "GET":
                response = send(path, **extra)
            else:
                response = send(path, data, format="json", **extra)
        except Exception as exc:  # noqa: BLE001 (a view that raises is a 500 to a real client)
            seconds = time.perf_counter() - started
            self._log(method, path, data if raw is None else raw[:80], 500, seconds)
            where = "".join(traceback.format_exception_only(exc)).strip()
            frames = traceback.extract_tb(exc.__traceback__)[-3:]
            self.recorder.fail(
                "no_5xx",
                f"{method} {path} raised {where} (at {'; '.join(f'{f.filename}:{f.lineno}' for f in frames)})",
                key=(route_of(path), type(exc).__name__),
            )
            return Reply(500, b"", {})
        seconds = time.perf_counter() - started
        reply = Reply(response.status_code, getattr(response, "content", b""), dict(response.items()))
        if "json" in reply.headers.get("Content-Type", ""):
            try:
                reply.data = json.loads(reply.content or b"null")
            except ValueError:
                reply.data = None
        self._log(method, path, data if raw is None else raw[:80], reply.status, seconds)
        self._judge(method, path, reply)
        return reply

    def _log(self, method, path, data, status, seconds) -> None:
        # Calendar apps poll with the feed URL alone; they are counted apart from what the person does.
        role = "calendar app" if path.startswith("/feeds/") else self.role
        self.recorder.request(
            actor=self.name,
            role=role,
            method=method,
            path=path,
            data=data,
            status=status,
            route=route_of(path),
            seconds=seconds,
        )

    def _judge(self, method: str, path: str, reply: Reply) -> None:
        if reply.status >= 500:
            self.recorder.fail(
                "no_5xx",
                f"{method} {path} answered {reply.status}: {reply.content[:300]!r}",
                key=(route_of(path), reply.status),
            )
        elif 400 <= reply.status < 500:
            reason = refusal_reason(reply)
            # A calendar app shows no error text: feeds answer 404 and 429 with an empty calendar body by design.
            if reason is None and path.startswith("/feeds/"):
                reason = f"{reply.status} calendar feed"
            if reason is None:
                self.recorder.fail(
                    "refusal_says_why",
                    f"{method} {path} answered {reply.status} without a JSON message: {reply.content[:120]!r}",
                    key=(route_of(path), reply.status),
                )
                reason = f"{reply.status} (no message)"
            self.recorder.refusals[reason] += 1
        elif method != "GET" and reply.ok:
            self.on_write(self.person.agency)

    def pages(self, path: str) -> list[dict]:
        """Every item of a paginated list."""
        items: list[dict] = []
        while path:
            reply = self.call("GET", path)
            if not reply.ok:
                return items
            if isinstance(reply.data, list):
                return items + reply.data
            items += reply.data.get("results", [])
            following = reply.data.get("next")
            path = following.split("testserver", 1)[-1] if following else ""
        return items
