"""The forge client: one pull request per issue branch on GitHub (PyGithub) or GitLab (python-gitlab).

`build_forge(settings)` is the one place a provider is chosen; the worker's forge activity is its only user, so
FORGE_TOKEN stays in the worker and never reaches an agent or its commands.
"""

from __future__ import annotations

from app.config import ForgeSettings
from app.forge.errors import (
    AlreadyExists,
    ForgeError,
    ForgeInvalid,
    ForgeNotFound,
    ForgePermission,
    ForgeUnavailable,
)
from app.forge.github import GitHubForge
from app.forge.gitlab import GitLabForge
from app.forge.models import Forge, Opened, PullRequest, PullRequestDraft
from app.forge.retry import ForgeRetry


def build_forge(settings: ForgeSettings, retry: ForgeRetry | None = None) -> Forge | None:
    """The configured provider's client, or None when FORGE is unset (the pushed branch stays the link)."""
    if settings.provider is None:
        return None
    retry = retry or ForgeRetry(settings.retry_budget.total_seconds())
    timeout = settings.timeout.total_seconds()
    kind = GitHubForge if settings.provider == "github" else GitLabForge
    return kind(settings.url, settings.repository, settings.token, timeout, retry)


__all__ = [
    "AlreadyExists",
    "Forge",
    "ForgeError",
    "ForgeInvalid",
    "ForgeNotFound",
    "ForgePermission",
    "ForgeRetry",
    "ForgeUnavailable",
    "Opened",
    "PullRequest",
    "PullRequestDraft",
    "build_forge",
]
