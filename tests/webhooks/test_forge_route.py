"""POST /webhooks/github and /webhooks/gitlab: signed (or refused), read, and one Temporal start per event."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from temporalio.common import WorkflowIDReusePolicy

from app.temporal.gateway import TemporalUnavailable
from tests.webhooks.conftest import FakeTemporal
from webhooks.verify import sign_jira_body
from workflows.pull_request_closed import PullRequestClosedInput

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "forge"
SECRET = "forge-webhook-secret"


@cache
def _fixture(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    return loaded


def fixture(name: str) -> dict[str, Any]:
    """A stored forge payload, deep-copied so a test may change it."""
    return copy.deepcopy(_fixture(name))


@pytest.fixture
def forge_client(make_app: Callable[..., Flask]) -> FlaskClient:
    return make_app(FORGE_WEBHOOK_SECRET=SECRET).test_client()


def github(
    client: FlaskClient, payload: Any, delivery: str = "gh-1", *, sign: str | None = SECRET, event: str = "pull_request"
) -> Any:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = {"X-GitHub-Event": event, "X-GitHub-Delivery": delivery, "Content-Type": "application/json"}
    if sign is not None:
        headers["X-Hub-Signature-256"] = sign_jira_body(body, sign)
    return client.post("/webhooks/github", data=body, headers=headers)


def gitlab(client: FlaskClient, payload: Any, token: str | None = SECRET, delivery: str = "gl-1") -> Any:
    headers = {"X-Gitlab-Event": "Merge Request Hook", "X-Gitlab-Event-UUID": delivery}
    if token is not None:
        headers["X-Gitlab-Token"] = token
    return client.post("/webhooks/gitlab", data=json.dumps(payload).encode(), headers=headers)


def test_a_signed_merge_starts_one_workflow_keyed_by_the_pull_request(
    forge_client: FlaskClient, fake_temporal: FakeTemporal
) -> None:
    response = github(forge_client, fixture("github_pull_request__closed_merged"))
    assert response.status_code == 202 and response.json["action"] == "merged"
    (start,) = fake_temporal.starts()
    assert start.workflow_id == "pull-request-DEMO-1-github-7-merged"
    assert start.arg == PullRequestClosedInput(
        "DEMO-1", "github", 7, "https://github.com/acme/shop/pull/7", True, "gh-1", "Done"
    )
    # Redelivered (or delivered again under a new id): the same workflow id, which Temporal starts only once.
    github(forge_client, fixture("github_pull_request__closed_merged"), "gh-2")
    assert {s.workflow_id for s in fake_temporal.starts()} == {start.workflow_id}
    assert start.options["id_reuse_policy"] == WorkflowIDReusePolicy.REJECT_DUPLICATE


def test_closed_without_merging_is_its_own_event(forge_client: FlaskClient, fake_temporal: FakeTemporal) -> None:
    response = github(forge_client, fixture("github_pull_request__closed_unmerged"), "gh-9")
    assert response.status_code == 202 and response.json["action"] == "closed"
    assert fake_temporal.starts()[0].workflow_id == "pull-request-DEMO-1-github-7-closed-gh-9"


@pytest.mark.parametrize("sign", [None, "another-secret"])
def test_unsigned_or_badly_signed_deliveries_are_401(
    forge_client: FlaskClient, fake_temporal: FakeTemporal, sign: str | None
) -> None:
    response = github(forge_client, fixture("github_pull_request__closed_merged"), sign=sign)
    assert response.status_code == 401 and "X-Hub-Signature-256" in response.json["error"]
    assert fake_temporal.calls == []


def test_without_a_secret_every_delivery_is_refused(
    make_app: Callable[..., Flask], fake_temporal: FakeTemporal
) -> None:
    client = make_app().test_client()
    response = github(client, fixture("github_pull_request__closed_merged"))
    assert response.status_code == 401 and "FORGE_WEBHOOK_SECRET" in response.json["error"]
    assert gitlab(client, fixture("gitlab_merge_request__merge")).status_code == 401
    assert fake_temporal.calls == []


@pytest.mark.parametrize(
    "body", [b"not json", b"[]", json.dumps({"action": "closed", "pull_request": {"number": "7"}}).encode()]
)
def test_malformed_bodies_are_400_never_500(forge_client: FlaskClient, body: bytes) -> None:
    response = github(forge_client, body)
    assert response.status_code == 400 and response.json["error"] == "malformed forge webhook"


def test_other_events_actions_and_branches_are_ignored(forge_client: FlaskClient, fake_temporal: FakeTemporal) -> None:
    assert github(forge_client, {"zen": "hi"}, event="ping").json == {"outcome": "ignored", "reason": "ping"}
    opened = fixture("github_pull_request__closed_merged") | {"action": "opened"}
    assert github(forge_client, opened).json["outcome"] == "ignored"
    other = fixture("github_pull_request__closed_merged")
    other["pull_request"]["head"]["ref"] = "feature/login"
    answer = github(forge_client, other)
    assert answer.status_code == 200 and "not an issue branch" in answer.json["reason"]
    assert fake_temporal.calls == []


def test_temporal_unreachable_is_503_so_the_forge_retries(
    forge_client: FlaskClient, fake_temporal: FakeTemporal
) -> None:
    fake_temporal.failure = TemporalUnavailable("cannot reach Temporal")
    assert github(forge_client, fixture("github_pull_request__closed_merged")).status_code == 503


def test_gitlab_merge_and_close_with_the_shared_token(forge_client: FlaskClient, fake_temporal: FakeTemporal) -> None:
    assert gitlab(forge_client, fixture("gitlab_merge_request__merge")).status_code == 202
    assert gitlab(forge_client, fixture("gitlab_merge_request__close"), delivery="gl-2").json["action"] == "closed"
    merged, closed = fake_temporal.starts()
    assert merged.workflow_id == "pull-request-DEMO-1-gitlab-3-merged" and merged.arg.merged
    assert closed.workflow_id == "pull-request-DEMO-1-gitlab-3-closed-gl-2" and not closed.arg.merged
    for token in (None, "wrong"):
        assert gitlab(forge_client, fixture("gitlab_merge_request__merge"), token=token).status_code == 401
    assert len(fake_temporal.starts()) == 2
