"""The `make run` path without Temporal: a person's comment through the CLI reaches the real web app's webhook."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from app.config import Settings
from app.sandbox.server import SandboxConfig, SandboxServer
from app.web.factory import create_app
from tests.conftest import free_port, make_settings


@pytest.fixture
def stack(tmp_path: Path, sqlite_url: str) -> Iterator[tuple[Settings, SandboxServer]]:
    """The web app and the sandbox, wired by the default settings (only ports, secret and paths chosen)."""
    env = {"DATABASE_URL": sqlite_url, "JIRA_WEBHOOK_SECRET": "s3cret", "TEMPORAL_ADDRESS": "127.0.0.1:1"}
    env["JIRA_BOT_ACCOUNT_ID"] = "sandbox-bot"  # no background /myself lookup outliving the test
    settings = make_settings(tmp_path, WEB_PORT=str(free_port()), SANDBOX_JIRA_PORT=str(free_port()), **env)
    web = make_server("127.0.0.1", settings.web_port, create_app(settings), threaded=True)
    thread = threading.Thread(target=web.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    sandbox = SandboxServer(SandboxConfig.from_settings(settings)).start()
    yield settings, sandbox
    sandbox.stop()
    web.shutdown()
    web.server_close()


def test_cli_comment_reaches_the_webhook_endpoint_signed(
    stack: tuple[Settings, SandboxServer], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from app.sandbox.people import SandboxPerson

    settings, sandbox = stack
    assert sandbox.config.delivery.url == f"http://127.0.0.1:{settings.web_port}/webhooks/jira"
    SandboxPerson(settings.jira.url, "reviewer").comment("DEMO-1", "hello")
    assert "hello" in SandboxPerson(settings.jira.url, "reporter").show("DEMO-1")
    deadline = time.monotonic() + 10
    while sandbox.store.next_due_in(time.time()) is not None:  # delivered = the endpoint answered 2xx
        assert time.monotonic() < deadline, "the webhook was not accepted"
        time.sleep(0.02)
    with sandbox.store.read() as state:
        assert state["failed"] == []  # a bad signature would be a 401, given up on and listed here
