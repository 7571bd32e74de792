"""Shared pieces of the forge tests: the answers GitHub and GitLab give (their documented shapes, trimmed)."""

from __future__ import annotations

from typing import Any

import pytest

from app.forge import ForgeRetry

TOKEN = "ghp_forge-token-SECRET-1234567890"  # looked for in logs and errors
GITHUB = "https://api.github.com"
# PyGithub names the port in the URLs it requests.
REPO = "https://api.github.com:443/repos/acme/shop"
REPO_URL = f"{GITHUB}/repos/acme/shop"  # as GitHub writes it in its answers
GITLAB = "https://gitlab.example.com"
PROJECT = f"{GITLAB}/api/v4/projects/acme%2Fshop"
HEAD = "jira/PAY-1"


class Waits:
    """A retry policy whose sleeps are recorded, not slept."""

    def __init__(self) -> None:
        self.slept: list[float] = []

    def policy(self, budget: float = 600.0) -> ForgeRetry:
        """A ForgeRetry that records its waits, on a clock that only its sleeps move."""
        return ForgeRetry(budget, sleep=self.slept.append, clock=lambda: sum(self.slept))


@pytest.fixture
def waits() -> Waits:
    """Recorded retry waits."""
    return Waits()


def github_pull(
    number: int = 7,
    *,
    state: str = "open",
    merged: bool = False,
    body: str = "",
    head: str = HEAD,
    updated: str = "2026-12-01T10:00:00Z",
) -> dict[str, Any]:
    """A pull request as GET/POST /repos/{owner}/{repo}/pulls answers it (the fields the provider reads)."""
    return {
        "updated_at": updated,
        "url": f"{REPO_URL}/pulls/{number}",
        "html_url": f"https://github.com/acme/shop/pull/{number}",
        "number": number,
        "state": state,
        "title": f"PAY-1: old title {number}",
        "body": body,
        "draft": True,
        "merged_at": updated if merged else None,
        "head": {"label": f"acme:{head}", "ref": head, "sha": "a" * 40},
        "base": {"label": "acme:main", "ref": "main", "sha": "b" * 40},
    }


def github_repo() -> dict[str, Any]:
    """GET /repos/{owner}/{repo} (trimmed)."""
    return {"id": 1, "name": "shop", "full_name": "acme/shop", "default_branch": "main", "url": REPO_URL}


def gitlab_mr(
    iid: int = 3, *, state: str = "opened", title: str = "Draft: PAY-1: old", head: str = HEAD
) -> dict[str, Any]:
    """A merge request as GET/POST /projects/:id/merge_requests answers it (the fields the provider reads)."""
    return {
        "id": 1000 + iid,
        "iid": iid,
        "project_id": 42,
        "title": title,
        "description": "",
        "state": state,
        "draft": title.startswith("Draft: "),
        "source_branch": head,
        "target_branch": "main",
        "web_url": f"{GITLAB}/acme/shop/-/merge_requests/{iid}",
    }


def gitlab_project() -> dict[str, Any]:
    """GET /projects/:id (trimmed)."""
    return {"id": 42, "path_with_namespace": "acme/shop", "default_branch": "main"}
