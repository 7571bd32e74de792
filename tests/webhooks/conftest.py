"""Fixtures of the webhook tests: a recording fake Temporal gateway, the app with it, and a delivery poster."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from temporalio.service import RPCError, RPCStatusCode
from werkzeug.test import TestResponse

from app.config import Settings, TemporalSettings
from app.web.factory import create_app
from tests.conftest import make_settings
from tests.webhooks.jira_payloads import APPROVE_STATUS, BOT, SECRET, TRIGGER_STATUS, encode, signed_headers


@dataclass
class Call:
    """One Temporal call the app made: a start or a signal."""

    kind: str
    workflow_id: str
    name: str
    arg: Any
    options: dict[str, Any] = field(default_factory=dict)


class FakeTemporal:
    """Records starts and signals like bedevere's FakeGH; a signal to a workflow never started is NOT_FOUND."""

    def __init__(self) -> None:
        self.settings = TemporalSettings()
        self.calls: list[Call] = []
        self.live: set[str] = set()
        self.failure: BaseException | None = None

    def call(self, fn: Callable[[Any], Awaitable[Any]], timeout: Any = None) -> Any:
        if self.failure is not None:
            raise self.failure
        return asyncio.run(_run(fn, _FakeClient(self)))

    def check(self) -> str | None:
        return None

    def close(self) -> None:
        pass

    def starts(self) -> list[Call]:
        return [c for c in self.calls if c.kind == "start"]

    def signals(self) -> list[Call]:
        return [c for c in self.calls if c.kind == "signal"]


async def _run(fn: Callable[[Any], Awaitable[Any]], client: Any) -> Any:
    return await fn(client)


class _FakeClient:
    def __init__(self, fake: FakeTemporal) -> None:
        self.fake = fake

    async def start_workflow(self, run: Any, arg: Any, *, id: str, **options: Any) -> _FakeHandle:
        self.fake.calls.append(Call("start", id, run.__name__, arg, options))
        self.fake.live.add(id)
        return _FakeHandle(self.fake, id)

    def get_workflow_handle_for(self, run: Any, workflow_id: str) -> _FakeHandle:
        return _FakeHandle(self.fake, workflow_id)


class _FakeHandle:
    def __init__(self, fake: FakeTemporal, workflow_id: str) -> None:
        self.fake = fake
        self.id = workflow_id
        self.result_run_id = f"run-of-{workflow_id}"

    async def signal(self, method: Any, arg: Any) -> None:
        if self.id not in self.fake.live:
            raise RPCError("workflow not found", RPCStatusCode.NOT_FOUND, b"")
        self.fake.calls.append(Call("signal", self.id, method.__name__, arg))


def webhook_settings(tmp_path: Path, database_url: str, **env: str) -> Settings:
    """Settings of the webhook tests: a secret, the bot's id, trigger and approve statuses."""
    values = {
        "DATABASE_URL": database_url,
        "JIRA_WEBHOOK_SECRET": SECRET,
        "JIRA_BOT_ACCOUNT_ID": BOT,
        "ORCHESTRATOR_TRIGGER_STATUS": TRIGGER_STATUS,
        "ORCHESTRATOR_APPROVE_STATUS": APPROVE_STATUS,
        "ORCHESTRATOR_GATES": "EXPLORE,PLAN,TEST",
        "TEMPORAL_TASK_QUEUE": "webhook-tests",
        "ORCHESTRATOR_SECRET_KEY": "webhook-tests-session-key-of-32-chars",
    }
    values.update(env)
    return make_settings(tmp_path, **{k: v for k, v in values.items() if v is not None})


@pytest.fixture
def fake_temporal() -> FakeTemporal:
    """A recording Temporal gateway."""
    return FakeTemporal()


@pytest.fixture
def make_app(tmp_path: Path, sqlite_url: str, fake_temporal: FakeTemporal) -> Iterator[Callable[..., Flask]]:
    """Build the real app with the fake gateway; keyword arguments are extra environment variables."""
    apps: list[Flask] = []

    def make(**env: str) -> Flask:
        apps.append(create_app(webhook_settings(tmp_path, sqlite_url, **env), temporal=fake_temporal))  # type: ignore[arg-type]
        return apps[-1]

    yield make
    for app in apps:
        app.extensions["jira_bot_identity"].stop()
        app.extensions["db_engine"].dispose()


@pytest.fixture
def client(make_app: Callable[..., Flask]) -> FlaskClient:
    """A test client of the app with default webhook settings."""
    return make_app().test_client()


Poster = Callable[..., TestResponse]


@pytest.fixture
def post(client: FlaskClient) -> Poster:
    """POST a payload (dict) or body (bytes) to /webhooks/jira, signed unless told otherwise."""

    def send(
        payload: Any,
        delivery_id: str | None = "delivery-1",
        *,
        signed: bool = True,
        headers: dict[str, str] | None = None,
    ) -> TestResponse:
        body = payload if isinstance(payload, bytes) else encode(payload)
        sent = signed_headers(body, delivery_id) if signed else {}
        if not signed and delivery_id is not None:
            sent["X-Atlassian-Webhook-Identifier"] = delivery_id
        sent.update(headers or {})
        response = client.post("/webhooks/jira", data=body, headers=sent)
        response.get_data()
        response.close()  # as a server does once the answer is sent: runs the route's after-answer work
        return response

    return send
