"""Pull requests on GitHub (REST v3), also GitHub Enterprise Server (FORGE_URL=https://HOST/api/v3), with PyGithub.

PyGithub runs with a timeout on every call, no retries of its own (`retry=None`: retry.py is the one layer) and
no pacing sleeps between calls (a run makes a handful; a secondary rate limit answers with Retry-After, which
the retry layer honours).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, TypeVar

import requests
from github import Auth, Github, GithubException
from github.PullRequest import PullRequest as GitHubPull
from github.Repository import Repository

from app.forge.errors import AlreadyExists, ForgeError, from_status, transport_error
from app.forge.models import HEAD_PREFIX, Opened, PullRequest, PullRequestDraft
from app.forge.retry import ForgeRetry
from app.forge.upsert import open_or_update

T = TypeVar("T")


class GitHubForge:
    """One repository's pull requests on GitHub."""

    def __init__(self, url: str, repository: str, token: str, timeout: float, retry: ForgeRetry) -> None:
        self.repository = repository
        self.owner = repository.split("/", 1)[0]
        self.retry = retry
        self.client = Github(
            base_url=url,
            auth=Auth.Token(token),
            timeout=max(1, round(timeout)),
            retry=None,
            seconds_between_requests=None,
            seconds_between_writes=None,
            lazy=True,  # objects are fetched when read: no GET before a list, an edit or a comment
        )

    def open_or_update(self, draft: PullRequestDraft) -> Opened:
        """Find the head branch's pull request and update it (reopening a closed one), or create it."""
        return self._call(lambda: self._open_or_update(draft), f"pull request for {draft.head}")

    def find(self, head: str) -> PullRequest | None:
        """The head branch's pull request (open first, then the newest), or None."""
        found = self._call(lambda: self._find(head), f"GET pulls?head={head}")
        return _pull_request(found) if found else None

    def comment(self, number: int, body: str) -> None:
        """Comment on the pull request (its conversation, i.e. its issue's comments)."""
        self._call(lambda: self._repo().get_issue(number).create_comment(body), f"POST issues/{number}/comments")

    def merged_since(self, since: datetime) -> list[PullRequest]:
        """Closed pull requests, most recently updated first, down to `since`: the merged ones of jira/* heads."""
        return self._call(lambda: self._merged_since(since), "GET pulls?state=closed&sort=updated")

    def _merged_since(self, since: datetime) -> list[PullRequest]:
        found = []
        for pull in self._repo().get_pulls(state="closed", sort="updated", direction="desc"):
            if pull.updated_at is not None and pull.updated_at < since:
                break  # the rest were updated earlier still
            if pull.merged_at is not None and pull.head.ref.startswith(HEAD_PREFIX):
                found.append(_pull_request(pull))
        return found

    def _open_or_update(self, draft: PullRequestDraft) -> Opened:
        def update(pull: GitHubPull) -> PullRequest:
            pull.edit(title=draft.title, body=draft.body, state="open")  # reopens a closed one
            return _pull_request(pull)

        return open_or_update(
            lambda: self._find(draft.head), lambda: self._create(draft), update, lambda p: p.merged_at is not None
        )

    def _create(self, draft: PullRequestDraft) -> PullRequest:
        repo = self._repo()
        base = draft.base or repo.default_branch
        with _classified(f"POST pulls for {draft.head}"):
            created = repo.create_pull(
                base=base, head=draft.head, title=draft.title, body=draft.body, draft=draft.draft
            )
        return _pull_request(created)

    def _find(self, head: str) -> GitHubPull | None:
        pulls = list(self._repo().get_pulls(state="all", head=f"{self.owner}:{head}"))
        pulls = [p for p in pulls if p.head.ref == head]  # the filter is the forge's; check it anyway
        open_ = [p for p in pulls if p.state == "open"]
        ranked = open_ or sorted(pulls, key=lambda p: p.number, reverse=True)
        return ranked[0] if ranked else None

    def _repo(self) -> Repository:
        return self.client.get_repo(self.repository)

    def _call(self, fn: Callable[[], T], what: str) -> T:
        def once() -> T:
            with _classified(what):
                return fn()

        return self.retry.call(once, what)


@contextmanager
def _classified(what: str) -> Iterator[None]:
    try:
        yield
    except ForgeError:
        raise
    except GithubException as err:
        message = _message(err.data)
        if err.status == 422 and "already exists" in message.lower():
            raise AlreadyExists(f"{what}: {message}", 422) from None
        # `from None`: the chained exception would carry the request, and so the token.
        raise from_status(err.status, what, message, dict(err.headers or {})) from None
    except requests.RequestException as err:
        raise transport_error(err, what) from None


def _message(data: Any) -> str:
    """GitHub's `message` and its `errors[].message` (they describe the request, never echo the token)."""
    if not isinstance(data, dict):
        return str(data or "")[:300]
    parts = [str(data.get("message") or "")]
    for error in data.get("errors") or []:
        if isinstance(error, dict) and error.get("message"):
            parts.append(str(error["message"]))
    return "; ".join(p for p in parts if p)


def _pull_request(pull: GitHubPull) -> PullRequest:
    state = "merged" if pull.merged_at is not None else pull.state
    return PullRequest(pull.number, pull.html_url, pull.head.ref, state, pull.title)
