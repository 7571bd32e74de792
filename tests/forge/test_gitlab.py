"""The GitLab provider against `responses`-faked REST v4: one merge request per source branch, errors typed."""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime

import pytest
import responses
from responses import matchers

from app.forge import ForgeNotFound, ForgePermission, ForgeUnavailable, PullRequestDraft
from app.forge.gitlab import GitLabForge
from tests.forge.conftest import GITLAB, HEAD, PROJECT, TOKEN, Waits, gitlab_mr, gitlab_project

DRAFT = PullRequestDraft(HEAD, "PAY-1: Add a refund endpoint", "Plan and tests", None, True)
LIST = matchers.query_param_matcher({"source_branch": HEAD, "state": "all"}, strict_match=False)
MRS = f"{PROJECT}/merge_requests"


def forge(waits: Waits) -> GitLabForge:
    return GitLabForge(GITLAB, "acme/shop", TOKEN, 5.0, waits.policy())


def posts(calls: responses.CallList) -> list[str]:
    return [str(c.request.url) for c in calls if c.request.method == "POST"]


@responses.activate
def test_creates_a_draft_merge_request_onto_the_default_branch(waits: Waits) -> None:
    responses.get(MRS, json=[], match=[LIST])
    responses.get(PROJECT, json=gitlab_project())
    responses.post(MRS, json=gitlab_mr(3, title="Draft: " + DRAFT.title), status=201)

    opened = forge(waits).open_or_update(DRAFT)

    assert opened.created and opened.pull_request.url == f"{GITLAB}/acme/shop/-/merge_requests/3"
    assert json.loads(responses.calls[-1].request.body or b"") == {
        "source_branch": HEAD,
        "target_branch": "main",
        "title": "Draft: " + DRAFT.title,
        "description": DRAFT.body,
    }
    assert responses.calls[-1].request.headers["PRIVATE-TOKEN"] == TOKEN


@responses.activate
def test_finds_the_existing_merge_request_and_updates_its_description(waits: Waits) -> None:
    responses.get(MRS, json=[gitlab_mr(3)], match=[LIST])
    responses.put(f"{MRS}/3", json=gitlab_mr(3, title="Draft: " + DRAFT.title))

    opened = forge(waits).open_or_update(DRAFT)

    assert not opened.created and opened.pull_request.number == 3
    assert posts(responses.calls) == []
    sent = json.loads(responses.calls[-1].request.body or b"")
    assert sent["title"] == "Draft: " + DRAFT.title and sent["description"] == DRAFT.body


@responses.activate
def test_a_closed_merge_request_is_reopened(waits: Waits) -> None:
    responses.get(MRS, json=[gitlab_mr(3, state="closed")], match=[LIST])
    responses.put(f"{MRS}/3", json=gitlab_mr(3))

    assert forge(waits).open_or_update(DRAFT).pull_request.number == 3
    assert json.loads(responses.calls[-1].request.body or b"")["state_event"] == "reopen"


@responses.activate
def test_a_create_refused_as_already_existing_updates_the_one_that_exists(waits: Waits) -> None:
    responses.get(MRS, json=[], match=[LIST])
    responses.get(MRS, json=[gitlab_mr(3)], match=[LIST])
    responses.get(PROJECT, json=gitlab_project())
    already = {"message": ["Another open merge request already exists for this source branch: !3"]}
    responses.post(MRS, json=already, status=409)
    responses.put(f"{MRS}/3", json=gitlab_mr(3))

    opened = forge(waits).open_or_update(DRAFT)

    assert not opened.created and opened.pull_request.number == 3
    assert len(posts(responses.calls)) == 1


@pytest.mark.parametrize("status", [401, 403])
@responses.activate
def test_refused_credentials_are_permission_errors_and_not_retried(waits: Waits, status: int) -> None:
    responses.get(MRS, json={"message": "401 Unauthorized"}, status=status)

    with pytest.raises(ForgePermission, match=str(status)):
        forge(waits).open_or_update(DRAFT)
    assert len(responses.calls) == 1 and waits.slept == []


@responses.activate
def test_a_missing_project_is_not_found(waits: Waits) -> None:
    responses.get(MRS, json={"message": "404 Project Not Found"}, status=404)

    with pytest.raises(ForgeNotFound, match="404"):
        forge(waits).open_or_update(DRAFT)


@responses.activate
def test_a_rate_limit_waits_until_its_reset(waits: Waits) -> None:
    reset = int(time.time()) + 20
    responses.get(MRS, json={"message": "Retry later"}, status=429, headers={"RateLimit-Reset": str(reset)})
    responses.get(MRS, json={"message": "Retry later"}, status=429, headers={"Retry-After": "3"})
    responses.get(MRS, json=[gitlab_mr(3)], match=[LIST])
    responses.put(f"{MRS}/3", json=gitlab_mr(3))

    assert forge(waits).open_or_update(DRAFT).pull_request.number == 3
    assert len(waits.slept) == 2
    assert 18 <= waits.slept[0] <= 21 and waits.slept[1] == pytest.approx(3.5)


@responses.activate
def test_a_502_is_retried_and_the_budget_bounds_the_retries(waits: Waits) -> None:
    responses.get(MRS, body="bad gateway", status=502)
    responses.get(MRS, json=[gitlab_mr(3)], match=[LIST])
    responses.put(f"{MRS}/3", json=gitlab_mr(3))
    assert forge(waits).open_or_update(DRAFT).pull_request.number == 3
    assert waits.slept == [1.0]

    responses.reset()
    responses.get(MRS, body="bad gateway", status=502)
    stingy = GitLabForge(GITLAB, "acme/shop", TOKEN, 5.0, waits.policy(budget=5.0))
    with pytest.raises(ForgeUnavailable, match="502"):
        stingy.open_or_update(DRAFT)


@responses.activate
def test_comments_on_the_merge_request(waits: Waits) -> None:
    responses.post(f"{MRS}/3/notes", json={"id": 1, "body": "hi"}, status=201)

    forge(waits).comment(3, "Merged, thanks")

    assert json.loads(responses.calls[-1].request.body or b"") == {"body": "Merged, thanks"}


@responses.activate
def test_the_token_is_never_in_errors_or_logs(waits: Waits, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    responses.get(MRS, json={"message": "401 Unauthorized"}, status=401)

    with pytest.raises(ForgePermission) as raised:
        forge(waits).open_or_update(DRAFT)

    assert TOKEN not in str(raised.value) and raised.value.__cause__ is None
    assert TOKEN not in caplog.text


@responses.activate
def test_merged_since_asks_for_merged_requests_updated_after_the_date(waits: Waits) -> None:
    since = datetime(2026, 12, 1, tzinfo=UTC)
    merged_after = matchers.query_param_matcher(
        {"state": "merged", "updated_after": since.isoformat(), "order_by": "updated_at"}, strict_match=False
    )
    responses.get(
        MRS,
        json=[gitlab_mr(4, state="merged"), gitlab_mr(2, state="merged", head="feature/x")],
        match=[merged_after],
    )

    merged = forge(waits).merged_since(since)

    assert [(p.number, p.head, p.state) for p in merged] == [(4, HEAD, "merged")]
