"""Gateway tests: the real `jira` client against `responses`-faked Jira Cloud REST v2, with a fake clock."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
import responses

from app.config import JiraSettings
from app.jira_gateway import ApprovalPolicy, JiraGateway

SITE = "https://acme.atlassian.net"
API = f"{SITE}/rest/api/2"
TOKEN = "s3cret-api-token"
BOT = "712020:bot"
PLAN_NAME = "PAY-1-PLAN-v2.md"
PLAN_TEXT = "# Plan\n1. Retry refunds with backoff → at most 3 times\n"


class FakeClock:
    """A monotonic clock that only moves when the code under test sleeps; records every sleep."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def jira_settings() -> JiraSettings:
    return JiraSettings(
        base_url=SITE,
        email="bot@acme.test",
        api_token=TOKEN,
        timeout=timedelta(seconds=7),
        retry_budget=timedelta(seconds=60),
        bot_account_id=BOT,
    )


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def make_gateway(settings: JiraSettings, clock: FakeClock, policy: ApprovalPolicy | None = None) -> JiraGateway:
    """A gateway whose retries sleep on the fake clock."""
    return JiraGateway(settings, policy, sleep=clock.sleep, clock=clock)


@pytest.fixture
def gateway(jira_settings: JiraSettings, clock: FakeClock, rsps: responses.RequestsMock) -> JiraGateway:
    return make_gateway(jira_settings, clock)


def issue_body(key: str = "PAY-1", status: str = "To Do", labels: list[str] | None = None) -> dict[str, object]:
    """A GET issue answer with the fields the gateway asks for."""
    return {
        "id": "20431",
        "key": key,
        "fields": {
            "summary": "Refund retries",
            "description": "Make *refunds* retry less.",
            "labels": labels or [],
            "status": {"id": "3" if status == "In Progress" else "10001", "name": status},
            "reporter": {"accountId": "acc-reporter"},
            "project": {"id": "10010", "key": "PAY"},
        },
    }


def comment(cid: str, body: str = "x", author: str = "acc-someone", event: str | None = None) -> dict[str, object]:
    """A comment as GET comment?expand=properties returns it."""
    props = [{"key": "orchestrator.event", "value": {"key": event}}] if event else []
    return {"id": cid, "author": {"accountId": author}, "body": body, "created": "2026-01-01", "properties": props}


def comments_page(items: list[dict[str, object]], start: int = 0, total: int | None = None) -> dict[str, object]:
    """One page of GET comment."""
    return {"startAt": start, "maxResults": 100, "total": len(items) if total is None else total, "comments": items}


def attachment_json(aid: str = "10100", filename: str = PLAN_NAME, text: str = PLAN_TEXT) -> dict[str, object]:
    """An attachment as Jira lists it in `fields.attachment` and answers an upload with."""
    return {
        "self": f"{API}/attachment/{aid}",
        "id": aid,
        "filename": filename,
        "author": {"accountId": BOT},
        "created": "2026-01-01T09:00:00.000+0000",
        "size": len(text.encode()),
        "mimeType": "text/markdown",
        "content": f"{API}/attachment/content/{aid}",
    }


def attachments_body(*attachments: dict[str, object]) -> dict[str, object]:
    """A GET issue?fields=attachment answer."""
    return {"id": "20431", "key": "PAY-1", "fields": {"attachment": list(attachments)}}
