"""ForgeActivities: the typed text in, the pull request's reference out, forge errors typed for Temporal's retries."""

from __future__ import annotations

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.forge import ForgeActivities, PullRequestInput, PullRequestRef
from app.forge import ForgeError, ForgeNotFound, ForgePermission, ForgeUnavailable
from app.forge.body import Approver, PullRequestText, body, title
from tests.workflows.fakes import FakeForge, typed

TEXT = PullRequestText("PAY-1", "Add a refund endpoint", plan=typed("PLAN").plan, tests=typed("TEST").test)


def activities(forge: FakeForge | None) -> ForgeActivities:
    return ForgeActivities(forge, "https://acme.atlassian.net/browse/", "develop", False)


def test_opens_then_updates_the_same_pull_request() -> None:
    forge = FakeForge()
    env = ActivityEnvironment()
    first = env.run(activities(forge).open_pull_request, PullRequestInput("jira/PAY-1", TEXT))
    again = env.run(activities(forge).open_pull_request, PullRequestInput("jira/PAY-1", TEXT))
    assert first == PullRequestRef("https://forge.test/acme/shop/pull/1", 1, True)
    assert again == PullRequestRef("https://forge.test/acme/shop/pull/1", 1, False)
    draft = forge.drafts[0]
    assert (draft.base, draft.draft, draft.title) == ("develop", False, "PAY-1: Add a refund endpoint")
    assert draft.body == body(TEXT, "https://acme.atlassian.net/browse/PAY-1")


@pytest.mark.parametrize(
    ("error", "retryable"),
    [
        (ForgePermission("403", 403), False),
        (ForgeNotFound("404", 404), False),
        (ForgeUnavailable("502", 502), True),
    ],
)
def test_errors_are_typed_by_class(error: ForgeError, retryable: bool) -> None:
    forge = FakeForge()
    forge.refuse = error
    with pytest.raises(ApplicationError) as raised:
        ActivityEnvironment().run(activities(forge).open_pull_request, PullRequestInput("jira/PAY-1", TEXT))
    assert raised.value.type == type(error).__name__ and raised.value.non_retryable is not retryable


def test_a_worker_without_a_forge_refuses_for_good() -> None:
    with pytest.raises(ApplicationError) as raised:
        ActivityEnvironment().run(activities(None).open_pull_request, PullRequestInput("jira/PAY-1", TEXT))
    assert raised.value.type == "ForgeDisabled" and raised.value.non_retryable


def test_the_body_carries_the_plan_figures_and_approvers_as_text() -> None:
    text = PullRequestText(
        "PAY-1",
        "Ping @security-team <script>alert(1)</script>",
        plan=typed("PLAN").plan,
        changes=typed("CODE").code,
        tests=typed("TEST").test,
        approvers=[Approver("PLAN", "acc-reviewer", "2026-12-06T10:11:12+00:00")],
    )
    rendered = body(text, "https://acme.atlassian.net/browse/PAY-1")
    assert rendered.startswith("Jira issue: [PAY-1](https://acme.atlassian.net/browse/PAY-1)")
    assert "@security-team" not in rendered and "<script>" not in rendered and "&lt;script&gt;" in rendered
    assert "### Approved plan" in rendered and "- Tests: 2 passed, 0 failed, 0 skipped" in rendered
    assert "- PLAN: acc-reviewer (2026-12-06 10:11 UTC)" in rendered
    assert title(PullRequestText("PAY-1", "x" * 500)).startswith("PAY-1: x") and len(title(text)) <= 200
    assert len(body(PullRequestText("PAY-1", "y" * 70_000), "u")) < 61_000
