"""Jira webhook fixtures (tests/fixtures/jira/<event>__<variant>.json), the accounts they use, and signing."""

from __future__ import annotations

import copy
import json
import re
import time
from functools import cache
from pathlib import Path
from typing import Any

from webhooks.verify import sign_jira_body

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "jira"
SECRET = "It's a Secret to Everybody"
# The accounts the fixtures use.
PRIYA = "712020:3f6a9c1e-2b7d-4e08-9c55-1d2e3f4a5b6c"
MARCO = "5f2a7b9c0d1e2f3a4b5c6d7e"
BOT = "712020:9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b"
TRIGGER_STATUS = "Ready for AI"
APPROVE_STATUS = "AI Approved"


def fixture_names() -> list[str]:
    """Every fixture's name (file name without .json)."""
    return sorted(path.stem for path in FIXTURES.glob("*.json"))


# Jira stamps each event when it happens; the captured fixtures are older than the route's JIRA_WEBHOOK_MAX_AGE,
# so they are served stamped with this session's start (one stamp: the same fixture stays the same body).
SESSION_STAMP = int(time.time() * 1000)


@cache
def _raw(name: str) -> bytes:
    raw = (FIXTURES / f"{name}.json").read_bytes()
    return re.sub(rb'("timestamp":\s*)\d{13}', rb"\g<1>" + str(SESSION_STAMP).encode(), raw, count=1)


@cache
def _parsed(name: str) -> Any:
    return json.loads(_raw(name))


def load_jira_fixture(name: str) -> Any:
    """A fixture's JSON, deep-copied so a test may change it freely."""
    return copy.deepcopy(_parsed(name))


def fixture_body(name: str) -> bytes:
    """A fixture's exact bytes (the malformed ones are not JSON at all)."""
    return _raw(name)


def encode(payload: Any) -> bytes:
    """A payload as Jira would send it."""
    return json.dumps(payload).encode()


def signed_headers(body: bytes, delivery_id: str | None = None, secret: str = SECRET) -> dict[str, str]:
    """The headers of a signed Jira admin-webhook delivery."""
    headers = {"Content-Type": "application/json; charset=utf-8", "X-Hub-Signature": sign_jira_body(body, secret)}
    if delivery_id is not None:
        headers["X-Atlassian-Webhook-Identifier"] = delivery_id
    return headers
