"""The forge activity: open (or bring up to date) the issue branch's pull request. All I/O goes through app/forge.

A sync activity (PyGithub and python-gitlab block), run on the worker's thread pool. It is idempotent: the
provider finds the head branch's pull request before creating one, so a retried or crashed attempt, or a re-run
of the issue, updates the same pull request. FORGE_TOKEN lives in the provider, built by the worker's registry:
it is in no input, result, message or log line. Errors leave as `ApplicationError`s typed by class:
`ForgePermission` (cause `permission`), `ForgeNotFound` and `ForgeInvalid` are non-retryable; `ForgeUnavailable`
(still failing after the provider's bounded retries) and anything unexpected are retryable.
"""

from __future__ import annotations

from dataclasses import dataclass

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.jira import heartbeating
from app.forge import Forge, ForgeError, PullRequestDraft
from app.forge.body import Approver, PullRequestText, body, title

# Exception class names (app/forge/errors.py) that no retry can fix; the workflow's policy names them too.
PERMANENT = ("ForgePermission", "ForgeNotFound", "ForgeInvalid", "AlreadyExists", "ForgeDisabled")


@dataclass(frozen=True)
class PullRequestInput:
    """Open or update the pull request of `head` (jira/<KEY>) with this text."""

    head: str
    text: PullRequestText


@dataclass(frozen=True)
class PullRequestRef:
    """The pull request the run's work is in: its web page, number, and whether this call created it."""

    url: str
    number: int
    created: bool


class ForgeActivities:
    """The run's pull request (None forge: FORGE is unset and no workflow calls this)."""

    def __init__(self, forge: Forge | None, issue_url: str, base_branch: str | None, draft: bool) -> None:
        self.forge = forge
        self.issue_url = issue_url.rstrip("/")  # the issue's page is `<issue_url>/<KEY>`
        self.base_branch = base_branch
        self.draft = draft

    @activity.defn
    def open_pull_request(self, request: PullRequestInput) -> PullRequestRef:
        """Find the head branch's pull request and update its title and body, or create it."""
        if self.forge is None:
            raise ApplicationError("FORGE is not set on this worker", type="ForgeDisabled", non_retryable=True)
        text = request.text
        draft = PullRequestDraft(
            request.head,
            title(text),
            body(text, f"{self.issue_url}/{text.issue_key}"),
            self.base_branch,
            self.draft,
        )
        try:
            # Heartbeats while the provider retries, so a worker killed mid-call is noticed within the heartbeat
            # timeout and the retry (which finds the pull request first) runs elsewhere.
            with heartbeating():
                opened = self.forge.open_or_update(draft)
        except ForgeError as err:
            name = type(err).__name__
            raise ApplicationError(str(err), type=name, non_retryable=name in PERMANENT) from None
        activity.logger.info(
            "forge.pull-request %s %s", "created" if opened.created else "updated", opened.pull_request.url
        )
        pull = opened.pull_request
        return PullRequestRef(pull.url, pull.number, opened.created)


__all__ = ["Approver", "ForgeActivities", "PullRequestInput", "PullRequestRef", "PullRequestText"]
