"""A sandbox Jira on a free port with its state in tmp_path, and a tiny HTTP receiver for its webhooks."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from app.config import SANDBOX_APPROVER_GROUP, JiraSettings
from app.jira_gateway import ApprovalPolicy, JiraGateway
from app.sandbox.outbox import DeliveryPolicy
from app.sandbox.server import SandboxConfig, SandboxServer
from tests.conftest import free_port

SECRET = "It's a Secret to Everybody"


@dataclass
class Delivery:
    """One webhook POST as the receiver saw it."""

    headers: dict[str, str]
    raw: bytes

    @property
    def body(self) -> Any:
        return json.loads(self.raw)


@dataclass
class Receiver:
    """Records deliveries; answers with `statuses` in turn (then 200)."""

    url: str = ""
    deliveries: list[Delivery] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    delays: list[float] = field(default_factory=list)
    in_flight: int = 0
    most_in_flight: int = 0  # the most deliveries it was answering at once
    changed: threading.Condition = field(default_factory=threading.Condition)

    def wait_for(self, predicate: Callable[[list[Delivery]], bool], timeout: float = 10.0) -> list[Delivery]:
        """Block until `predicate(deliveries)` holds; fail after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while not predicate(self.deliveries):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out; received {[d.body.get('webhookEvent') for d in self.deliveries]}")
                self.changed.wait(left)
            return list(self.deliveries)

    def events(self, name: str) -> list[Delivery]:
        with self.changed:
            return [d for d in self.deliveries if d.body.get("webhookEvent") == name]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    recv = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with recv.changed:
                status = recv.statuses.pop(0) if recv.statuses else 200
                delay = recv.delays.pop(0) if recv.delays else 0.0
                recv.deliveries.append(Delivery({k: v for k, v in self.headers.items()}, raw))
                recv.in_flight += 1
                recv.most_in_flight = max(recv.most_in_flight, recv.in_flight)
                recv.changed.notify_all()
            time.sleep(delay)  # longer than the sandbox's timeout: it counts as a failed delivery
            with recv.changed:
                recv.in_flight -= 1
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    recv.url = f"http://127.0.0.1:{server.server_address[1]}/webhooks/jira"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield recv
    server.shutdown()
    server.server_close()


def sandbox_config(
    state: Path,
    webhook_url: str,
    secret: str = SECRET,
    port: int | None = None,
    timeout: float = 2.0,
    comment_twins: bool = False,
    threads: int = 1,
) -> SandboxConfig:
    """A sandbox that retries webhooks quickly (tests) instead of in seconds; one delivery per comment unless told."""
    policy = DeliveryPolicy(
        url=webhook_url, secret=secret, max_retries=3, first_backoff=0.05, timeout=(2.0, timeout), threads=threads
    )
    port = port or free_port()
    return SandboxConfig(state_path=state, host="127.0.0.1", port=port, delivery=policy, comment_twins=comment_twins)


@pytest.fixture
def sandbox(tmp_path: Path, receiver: Receiver) -> Iterator[SandboxServer]:
    server = SandboxServer(sandbox_config(tmp_path / "sandbox.json", receiver.url)).start()
    yield server
    server.stop()


def gateway_for(server: SandboxServer, **overrides: Any) -> JiraGateway:
    """The real gateway (real `jira` client) talking to the sandbox over HTTP with the default sandbox settings."""
    fields: dict[str, Any] = {"timeout": timedelta(seconds=5), "retry_budget": timedelta(seconds=10)}
    settings = JiraSettings(sandbox_port=server.config.port, **(fields | overrides))
    return JiraGateway(settings, ApprovalPolicy((SANDBOX_APPROVER_GROUP,)), sleep=lambda _s: None)


@pytest.fixture
def gateway(sandbox: SandboxServer) -> JiraGateway:
    return gateway_for(sandbox)
