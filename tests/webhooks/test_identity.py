"""The bot's own account: from settings, or learnt once from Jira's /myself off the request path."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import responses
from flask import Flask

from app.web.factory import create_app
from tests.webhooks.conftest import FakeTemporal, webhook_settings
from tests.webhooks.jira_payloads import BOT, encode, fixture_body, signed_headers
from webhooks.identity import BotIdentity, describe_error, fetch_bot_account_id

JIRA = "https://acme-dev.atlassian.net"
MYSELF = f"{JIRA}/rest/api/2/myself"


def wait_for(condition: Callable[[], bool], seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


@responses.activate
def test_fetch_asks_myself_with_basic_auth(tmp_path: Path, sqlite_url: str) -> None:
    responses.get(MYSELF, json={"accountId": BOT, "displayName": "Orchestrator Bot"})
    settings = webhook_settings(
        tmp_path, sqlite_url, JIRA_BASE_URL=JIRA, JIRA_EMAIL="bot@acme.test", JIRA_API_TOKEN="tok"
    )
    assert fetch_bot_account_id(settings.jira) == BOT
    [call] = responses.calls
    assert call.request.headers["Authorization"].startswith("Basic ")


def test_learning_retries_with_backoff_until_jira_answers() -> None:
    answers: list[Exception | str] = [ConnectionError("refused"), TimeoutError("slow"), BOT]
    asked: list[float] = []

    def fetch() -> str:
        asked.append(time.monotonic())
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    identity = BotIdentity()
    identity.learn_in_background(fetch, first_retry=0.05, max_retry=1)
    wait_for(lambda: identity.account_id == BOT)
    assert len(asked) == 3
    assert asked[2] - asked[1] > asked[1] - asked[0]  # the second wait is the longer one


def test_stop_ends_the_lookup() -> None:
    def refuse() -> str:
        raise ConnectionError("down")

    identity = BotIdentity()
    identity.learn_in_background(refuse, first_retry=0.01)
    identity.stop()
    assert identity.thread is not None
    identity.thread.join(timeout=5)
    assert not identity.thread.is_alive() and identity.account_id is None


def test_describe_error_hides_urls_and_bodies() -> None:
    class JIRAError(Exception):
        status_code = 401

    assert describe_error(JIRAError("https://x/rest?token=secret")) == "Jira answered 401"
    assert describe_error(ConnectionError("http://user:pass@host")) == "ConnectionError"


def test_configured_account_needs_no_lookup(make_app: Callable[..., Flask]) -> None:
    identity = make_app().extensions["jira_bot_identity"]
    assert identity.account_id == BOT and identity.thread is None


@responses.activate
def test_the_app_learns_the_bot_in_the_background_and_then_ignores_its_comments(
    tmp_path: Path, sqlite_url: str, fake_temporal: FakeTemporal
) -> None:
    responses.get(MYSELF, json={"accountId": BOT})
    settings = webhook_settings(
        tmp_path, sqlite_url, JIRA_BOT_ACCOUNT_ID="", JIRA_BASE_URL=JIRA, JIRA_EMAIL="bot@acme.test", JIRA_API_TOKEN="t"
    )
    app = create_app(settings, temporal=fake_temporal)  # type: ignore[arg-type]
    identity: BotIdentity = app.extensions["jira_bot_identity"]
    try:
        assert identity.thread is None and len(responses.calls) == 0  # nothing asked before the first delivery
        fake_temporal.live.add("orchestration-PAY-317")
        body = fixture_body("comment_created__bot_authored_command")
        first = app.test_client().post("/webhooks/jira", data=body, headers=signed_headers(body, "d-first"))
        # Dispatched if the lookup had not answered yet (the workflow checks the actor and refuses the bot), else
        # ignored: the delivery only starts the lookup, it never waits for it.
        assert first.status_code in (200, 202)
        wait_for(lambda: identity.account_id == BOT)
        calls = len(fake_temporal.calls)
        later = json.loads(body)
        later["comment"]["id"] = "10999"  # another comment by the bot, once it is known
        other = encode(later)
        response = app.test_client().post("/webhooks/jira", data=other, headers=signed_headers(other, "d-later"))
        assert response.status_code == 200 and response.json["reason"] == "caused by the bot's own account"
        assert len(fake_temporal.calls) == calls
        assert len(responses.calls) == 1  # asked once, and never inside the request
    finally:
        identity.stop()
        app.extensions["db_engine"].dispose()


def test_until_the_bot_is_known_its_commands_reach_the_workflow(
    tmp_path: Path, sqlite_url: str, fake_temporal: FakeTemporal
) -> None:
    settings = webhook_settings(tmp_path, sqlite_url, JIRA_BOT_ACCOUNT_ID="")
    app = create_app(settings, temporal=fake_temporal)  # type: ignore[arg-type]
    identity: BotIdentity = app.extensions["jira_bot_identity"]
    identity.stop()  # the sandbox Jira is not running here: the lookup would only keep failing
    try:
        fake_temporal.live.add("orchestration-PAY-317")
        body = fixture_body("comment_created__bot_authored_command")
        response = app.test_client().post("/webhooks/jira", data=body, headers=signed_headers(body, "d-bot"))
        assert response.status_code == 202  # the workflow checks the actor and refuses the bot (its side)
        [signal] = fake_temporal.signals()
        assert signal.arg.context.actor == BOT and signal.arg.context.trusted is False
    finally:
        app.extensions["db_engine"].dispose()


@pytest.mark.parametrize("raw", ["has space", "x" * 200, "semi;colon"])
def test_a_malformed_bot_account_setting_names_the_variable(tmp_path: Path, sqlite_url: str, raw: str) -> None:
    from app.config import ConfigError

    with pytest.raises(ConfigError, match="JIRA_BOT_ACCOUNT_ID"):
        webhook_settings(tmp_path, sqlite_url, JIRA_BOT_ACCOUNT_ID=raw)
