"""The GitHub provider against `responses`-faked REST v3: one pull request per head branch, errors typed."""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime

import pytest
import responses
from responses import matchers

from app.forge import (
    ForgeNotFound,
    ForgePermission,
    ForgeUnavailable,
    PullRequestDraft,
)
from app.forge.github import GitHubForge
from tests.forge.conftest import GITHUB, HEAD, REPO, TOKEN, Waits, github_pull, github_repo

DRAFT = PullRequestDraft(HEAD, "PAY-1: Add a refund endpoint", "Plan and tests", None, True)
LIST = matchers.query_param_matcher({"state": "all", "head": f"acme:{HEAD}"}, strict_match=False)


def forge(waits: Waits) -> GitHubForge:
    return GitHubForge(GITHUB, "acme/shop", TOKEN, 5.0, waits.policy())


def posts(calls: responses.CallList) -> list[str]:
    return [str(c.request.url) for c in calls if c.request.method == "POST"]


@responses.activate
def test_creates_the_pull_request_when_the_branch_has_none(waits: Waits) -> None:
    responses.get(f"{REPO}/pulls", json=[], match=[LIST])
    responses.get(REPO, json=github_repo())
    responses.post(f"{REPO}/pulls", json=github_pull(7), status=201)

    opened = forge(waits).open_or_update(DRAFT)

    assert opened.created and opened.pull_request.url == "https://github.com/acme/shop/pull/7"
    sent = json.loads(responses.calls[-1].request.body or b"")
    assert sent == {"base": "main", "head": HEAD, "title": DRAFT.title, "body": DRAFT.body, "draft": True}
    assert responses.calls[-1].request.headers["Authorization"] == f"token {TOKEN}"


@responses.activate
def test_finds_the_existing_pull_request_and_updates_its_body(waits: Waits) -> None:
    responses.get(f"{REPO}/pulls", json=[github_pull(7, body="old")], match=[LIST])
    responses.patch(f"{REPO}/pulls/7", json=github_pull(7, body=DRAFT.body))

    opened = forge(waits).open_or_update(DRAFT)

    assert not opened.created and opened.pull_request.number == 7
    assert posts(responses.calls) == []
    assert json.loads(responses.calls[-1].request.body or b"") == {
        "title": DRAFT.title,
        "body": DRAFT.body,
        "state": "open",
    }


@responses.activate
def test_a_closed_pull_request_is_reopened_and_a_merged_one_replaced(waits: Waits) -> None:
    responses.get(f"{REPO}/pulls", json=[github_pull(5, state="closed", merged=True)], match=[LIST])
    responses.get(REPO, json=github_repo())
    responses.post(f"{REPO}/pulls", json=github_pull(8), status=201)
    assert forge(waits).open_or_update(DRAFT).pull_request.number == 8

    responses.reset()
    responses.get(f"{REPO}/pulls", json=[github_pull(5, state="closed")], match=[LIST])
    responses.patch(f"{REPO}/pulls/5", json=github_pull(5))
    assert forge(waits).open_or_update(DRAFT).pull_request.number == 5
    assert posts(responses.calls) == []


@responses.activate
def test_a_create_refused_as_already_existing_updates_the_one_that_exists(waits: Waits) -> None:
    # A worker that crashed after its POST landed, or a racing one: the PR exists although the list missed it.
    responses.get(f"{REPO}/pulls", json=[], match=[LIST])
    responses.get(f"{REPO}/pulls", json=[github_pull(7)], match=[LIST])
    responses.get(REPO, json=github_repo())
    already = {
        "message": "Validation Failed",
        "errors": [
            {"resource": "PullRequest", "code": "custom", "message": f"A pull request already exists for acme:{HEAD}."}
        ],
    }
    responses.post(f"{REPO}/pulls", json=already, status=422)
    responses.patch(f"{REPO}/pulls/7", json=github_pull(7))

    opened = forge(waits).open_or_update(DRAFT)

    assert not opened.created and opened.pull_request.number == 7
    assert len(posts(responses.calls)) == 1


@pytest.mark.parametrize("status", [401, 403])
@responses.activate
def test_refused_credentials_are_permission_errors_and_not_retried(waits: Waits, status: int) -> None:
    responses.get(f"{REPO}/pulls", json={"message": "Bad credentials"}, status=status)

    with pytest.raises(ForgePermission, match=str(status)):
        forge(waits).open_or_update(DRAFT)

    assert len(responses.calls) == 1 and waits.slept == []


@responses.activate
def test_a_missing_repository_is_not_found(waits: Waits) -> None:
    responses.get(f"{REPO}/pulls", json={"message": "Not Found"}, status=404)

    with pytest.raises(ForgeNotFound, match="404"):
        forge(waits).open_or_update(DRAFT)
    assert waits.slept == []


@responses.activate
def test_a_rate_limit_waits_until_its_reset(waits: Waits) -> None:
    reset = int(time.time()) + 40
    limited = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset)}
    responses.get(f"{REPO}/pulls", json={"message": "API rate limit exceeded"}, status=403, headers=limited)
    responses.get(f"{REPO}/pulls", json={"message": "slow down"}, status=429, headers={"Retry-After": "7"})
    responses.get(f"{REPO}/pulls", json=[github_pull(7)], match=[LIST])
    responses.patch(f"{REPO}/pulls/7", json=github_pull(7))

    assert forge(waits).open_or_update(DRAFT).pull_request.number == 7

    assert len(waits.slept) == 2
    assert 38 <= waits.slept[0] <= 41 and waits.slept[1] == pytest.approx(7.5)


@responses.activate
def test_a_502_is_retried_and_the_budget_bounds_the_retries(waits: Waits) -> None:
    responses.get(f"{REPO}/pulls", body="bad gateway", status=502)
    responses.get(f"{REPO}/pulls", json=[github_pull(7)], match=[LIST])
    responses.patch(f"{REPO}/pulls/7", json=github_pull(7))
    assert forge(waits).open_or_update(DRAFT).pull_request.number == 7
    assert waits.slept == [1.0]

    responses.reset()
    responses.get(f"{REPO}/pulls", body="bad gateway", status=502)
    stingy = GitHubForge(GITHUB, "acme/shop", TOKEN, 5.0, waits.policy(budget=5.0))
    with pytest.raises(ForgeUnavailable, match="502"):
        stingy.open_or_update(DRAFT)


@responses.activate
def test_comments_on_the_pull_request(waits: Waits) -> None:
    responses.get(f"{REPO}/issues/7", json={"number": 7})
    responses.post(f"{REPO}/issues/7/comments", json={"id": 1, "body": "hi"}, status=201)

    forge(waits).comment(7, "Merged, thanks")

    assert json.loads(responses.calls[-1].request.body or b"") == {"body": "Merged, thanks"}


@responses.activate
def test_the_token_is_never_in_errors_or_logs(waits: Waits, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    responses.get(f"{REPO}/pulls", json={"message": "Bad credentials"}, status=401)

    with pytest.raises(ForgePermission) as raised:
        forge(waits).open_or_update(DRAFT)

    assert TOKEN not in str(raised.value) and raised.value.__cause__ is None
    assert TOKEN not in caplog.text


@responses.activate
def test_merged_since_reads_closed_pulls_newest_first_down_to_the_date(waits: Waits) -> None:
    closed = matchers.query_param_matcher(
        {"state": "closed", "sort": "updated", "direction": "desc"}, strict_match=False
    )
    responses.get(
        f"{REPO}/pulls",
        json=[
            github_pull(9, state="closed", merged=True, updated="2026-12-01T10:00:00Z"),
            github_pull(8, state="closed", updated="2026-12-01T09:00:00Z"),  # closed without merging
            github_pull(6, state="closed", merged=True, head="feature/x", updated="2026-12-01T08:30:00Z"),
            github_pull(5, state="closed", merged=True, updated="2026-11-20T08:00:00Z"),  # before `since`
        ],
        match=[closed],
    )

    merged = forge(waits).merged_since(datetime(2026, 12, 1, tzinfo=UTC))

    assert [(p.number, p.head, p.state) for p in merged] == [(9, HEAD, "merged")]
