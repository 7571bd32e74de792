"""The forge's settings: where pull requests are opened (GitHub, GitHub Enterprise Server, GitLab) and how."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta

from app.config.parsing import ConfigError, Getter, parse_bool, parse_duration, parse_url

FORGES = ("github", "gitlab")
DEFAULT_URLS = {"github": "https://api.github.com", "gitlab": "https://gitlab.com"}
# owner/name on GitHub; group/subgroup/.../project on GitLab.
_REPOSITORY = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)+$")


@dataclass(frozen=True)
class ForgeSettings:
    """Which forge opens the pull request (None = none: the pushed branch is the link), where, and with what."""

    provider: str | None = None  # github | gitlab
    url: str = ""  # the API base (GitHub Enterprise Server: https://HOST/api/v3; GitLab: the instance's root)
    repository: str = ""  # owner/name or group/project
    token: str = field(default="", repr=False)  # a secret: read by the worker only, never in history or logs
    base_branch: str | None = None  # None: the repository's default branch
    draft: bool = True
    timeout: timedelta = timedelta(seconds=30)  # one HTTP call
    retry_budget: timedelta = timedelta(minutes=2)  # all retries of one forge operation (429, 5xx, timeouts)
    # Signs GitHub's deliveries (X-Hub-Signature-256) and is GitLab's X-Gitlab-Token; unset = endpoints refuse all.
    webhook_secret: str = field(default="", repr=False)

    @property
    def enabled(self) -> bool:
        """Whether runs open a pull request."""
        return self.provider is not None


def forge_settings(get: Getter) -> ForgeSettings:
    """The forge settings from the environment; FORGE_REPOSITORY and FORGE_TOKEN are required once FORGE is set."""
    provider = get("FORGE", _provider, None)
    webhook_secret = get("FORGE_WEBHOOK_SECRET", lambda _n, raw: raw.strip(), "")
    if provider is None:
        return ForgeSettings(webhook_secret=webhook_secret)
    repository = get("FORGE_REPOSITORY", _repository, "")
    token = get("FORGE_TOKEN", lambda _n, raw: raw.strip(), "")
    if not repository or not token:
        missing = " and ".join(n for n, v in (("FORGE_REPOSITORY", repository), ("FORGE_TOKEN", token)) if not v)
        raise ConfigError(f"FORGE={provider}: {missing} must be set too")
    timeout: timedelta = get("FORGE_TIMEOUT", parse_duration, timedelta(seconds=30))
    if timeout <= timedelta(0):
        raise ConfigError(f"FORGE_TIMEOUT: must be more than 0s, got {timeout.total_seconds():g}s")
    return ForgeSettings(
        provider=provider,
        url=get("FORGE_URL", parse_url, DEFAULT_URLS[provider]),
        repository=repository,
        token=token,
        base_branch=get("FORGE_BASE_BRANCH", lambda _n, raw: raw.strip(), None),
        draft=get("FORGE_DRAFT", parse_bool, True),
        timeout=timeout,
        retry_budget=get("FORGE_RETRY_BUDGET", parse_duration, timedelta(minutes=2)),
        webhook_secret=webhook_secret,
    )


def _provider(name: str, raw: str) -> str:
    value = raw.strip().lower()
    if value not in FORGES:
        raise ConfigError(f"{name}: expected github or gitlab (or unset for no pull request), got {raw!r}")
    return value


def _repository(name: str, raw: str) -> str:
    value = raw.strip().strip("/")
    if not _REPOSITORY.match(value):
        raise ConfigError(f"{name}: expected owner/name (GitHub) or group/project (GitLab), got {raw!r}")
    return value
