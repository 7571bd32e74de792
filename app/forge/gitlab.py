"""Merge requests on GitLab (gitlab.com or self-managed: FORGE_URL is the instance's root), with python-gitlab.

python-gitlab runs with a timeout on every call and its own retries off (`retry_transient_errors=False`, and
`obey_rate_limit=False` on each call: retry.py is the one layer). Its errors carry no headers, so a response
hook on the session keeps the last answer's headers (per thread) for Retry-After and RateLimit-Reset.
GitLab has no draft flag on create: a draft merge request's title starts with `Draft: `.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, TypeVar

import gitlab
import requests
from gitlab.v4.objects import Project, ProjectMergeRequest

from app.forge.errors import AlreadyExists, ForgeError, from_status, transport_error
from app.forge.models import HEAD_PREFIX, Opened, PullRequest, PullRequestDraft
from app.forge.retry import ForgeRetry
from app.forge.upsert import open_or_update

T = TypeVar("T")
DRAFT = "Draft: "
STATES = {"opened": "open", "closed": "closed", "merged": "merged", "locked": "closed"}
NO_RETRY: dict[str, Any] = {"obey_rate_limit": False}


class GitLabForge:
    """One project's merge requests on GitLab."""

    def __init__(self, url: str, repository: str, token: str, timeout: float, retry: ForgeRetry) -> None:
        self.repository = repository
        self.retry = retry
        self._headers = threading.local()
        session = requests.Session()
        session.hooks["response"].append(self._keep_headers)
        self.client = gitlab.Gitlab(
            url,
            private_token=token,
            timeout=timeout,
            retry_transient_errors=False,
            session=session,
            keep_base_url=True,  # pages links stay on FORGE_URL even when the instance names another URL
        )

    def open_or_update(self, draft: PullRequestDraft) -> Opened:
        """Find the source branch's merge request and update it (reopening a closed one), or create it."""
        return self._call(lambda: self._open_or_update(draft), f"merge request for {draft.head}")

    def find(self, head: str) -> PullRequest | None:
        """The source branch's merge request (an open one first, then the newest), or None."""
        found = self._call(lambda: self._find(head), f"GET merge_requests?source_branch={head}")
        return _pull_request(found) if found else None

    def comment(self, number: int, body: str) -> None:
        """Add a note to the merge request `number` (its iid)."""

        def note() -> None:
            self._project().mergerequests.get(number, lazy=True).notes.create({"body": body}, **NO_RETRY)

        self._call(note, f"POST merge_requests/{number}/notes")

    def merged_since(self, since: datetime) -> list[PullRequest]:
        """Merge requests merged (and last updated) since `since`, of jira/* source branches, newest first."""
        return self._call(lambda: self._merged_since(since), "GET merge_requests?state=merged")

    def _merged_since(self, since: datetime) -> list[PullRequest]:
        found = self._project().mergerequests.list(
            state="merged",
            updated_after=since.isoformat(),
            order_by="updated_at",
            sort="desc",
            iterator=True,
            **NO_RETRY,
        )
        mrs = [mr for mr in found if isinstance(mr, ProjectMergeRequest)]
        return [_pull_request(mr) for mr in mrs if str(mr.source_branch).startswith(HEAD_PREFIX)]

    def _open_or_update(self, draft: PullRequestDraft) -> Opened:
        def update(mr: ProjectMergeRequest) -> PullRequest:
            mr.title = (DRAFT if mr.title.startswith(DRAFT) else "") + draft.title
            mr.description = draft.body
            if mr.state == "closed":
                mr.state_event = "reopen"
            mr.save(**NO_RETRY)
            return _pull_request(mr)

        return open_or_update(
            lambda: self._find(draft.head), lambda: self._create(draft), update, lambda mr: mr.state == "merged"
        )

    def _create(self, draft: PullRequestDraft) -> PullRequest:
        # The lazy project keeps the path's `group%2Fproject`; only the default branch needs the project read.
        base = draft.base or str(self._project(lazy=False).default_branch)
        data = {
            "source_branch": draft.head,
            "target_branch": base,
            "title": (DRAFT if draft.draft else "") + draft.title,
            "description": draft.body,
        }
        with _classified(f"POST merge_requests for {draft.head}", self._last_headers()):
            created = self._project().mergerequests.create(data, **NO_RETRY)
        assert isinstance(created, ProjectMergeRequest)  # python-gitlab types create() loosely
        return _pull_request(created)

    def _find(self, head: str) -> ProjectMergeRequest | None:
        found = self._project().mergerequests.list(source_branch=head, state="all", get_all=False, **NO_RETRY)
        mrs = [mr for mr in found if isinstance(mr, ProjectMergeRequest) and mr.source_branch == head]
        opened = [mr for mr in mrs if mr.state == "opened"]
        ranked = opened or sorted(mrs, key=lambda mr: mr.iid, reverse=True)
        return ranked[0] if ranked else None

    def _project(self, lazy: bool = True) -> Project:
        return self.client.projects.get(self.repository, lazy=lazy, **NO_RETRY)

    def _keep_headers(self, response: requests.Response, *_args: Any, **_kwargs: Any) -> None:
        self._headers.value = dict(response.headers)

    def _last_headers(self) -> Callable[[], dict[str, str]]:
        return lambda: getattr(self._headers, "value", {})

    def _call(self, fn: Callable[[], T], what: str) -> T:
        def once() -> T:
            self._headers.value = {}
            with _classified(what, self._last_headers()):
                return fn()

        return self.retry.call(once, what)


@contextmanager
def _classified(what: str, headers: Callable[[], dict[str, str]]) -> Iterator[None]:
    try:
        yield
    except ForgeError:
        raise
    except gitlab.exceptions.GitlabError as err:
        status = err.response_code or 0
        message = str(err.error_message or "")
        if status == 409 and "already exists" in message.lower():
            raise AlreadyExists(f"{what}: {message}", 409) from None
        # `from None`: the chained exception would carry the request, and so the token.
        raise from_status(status, what, message, headers()) from None
    except requests.RequestException as err:
        raise transport_error(err, what) from None


def _pull_request(mr: ProjectMergeRequest) -> PullRequest:
    return PullRequest(int(mr.iid), str(mr.web_url), str(mr.source_branch), STATES.get(mr.state, mr.state), mr.title)
