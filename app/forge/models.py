"""What the forge client says about pull requests (GitHub) and merge requests (GitLab), and its one interface."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

HEAD_PREFIX = "jira/"  # the issue branches' prefix: jira/<KEY>


@dataclass(frozen=True)
class PullRequestDraft:
    """The pull request to open (or bring up to date) for `head`, onto `base` (None: the default branch)."""

    head: str
    title: str
    body: str
    base: str | None = None
    draft: bool = True


@dataclass(frozen=True)
class PullRequest:
    """A pull request as the forge has it: its number, web page, head branch and state (open|closed|merged)."""

    number: int
    url: str
    head: str
    state: str
    title: str = ""


@dataclass(frozen=True)
class Opened:
    """The pull request `open_or_update` left behind, and whether this call created it."""

    pull_request: PullRequest
    created: bool


class Forge(Protocol):
    """A forge's pull requests: one per head branch, created once and then kept up to date."""

    def open_or_update(self, draft: PullRequestDraft) -> Opened:
        """Find the pull request for `draft.head` and update its title and body, or create it."""
        ...

    def find(self, head: str) -> PullRequest | None:
        """The pull request for this head branch (an open one first), or None."""
        ...

    def comment(self, number: int, body: str) -> None:
        """Add a comment to the pull request."""
        ...

    def merged_since(self, since: datetime) -> list[PullRequest]:
        """Pull requests of issue branches (jira/*) merged and last updated at or after `since`, newest first."""
        ...
