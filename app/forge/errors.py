"""The forge client's error classes, and how an HTTP answer's status and headers are classified.

Messages name the operation, the status and the forge's own message, never a header or body we sent (the token
travels in the Authorization header).
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping

import requests

MAX_MESSAGE = 300


class ForgeError(Exception):
    """Base of every error the forge client raises; `status` is the forge's HTTP status when there was one."""

    def __init__(self, message: str, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class ForgePermission(ForgeError):
    """401/403: the token is refused or may not do this; no retry can fix it (the run's cause is `permission`)."""


class ForgeNotFound(ForgeError):
    """404: the repository (or pull request) does not exist, or the token may not see it."""


class ForgeInvalid(ForgeError):
    """422 and other 4xx that waiting cannot fix: the request itself is wrong (e.g. no commits between branches)."""


class ForgeUnavailable(ForgeError):
    """Transient: 429, 5xx, a rate limit, a timeout or a connection error; worth retrying."""


class AlreadyExists(ForgeInvalid):
    """The forge already has an open pull request for this head branch (GitHub 422, GitLab 409)."""


def from_status(status: int, what: str, message: str, headers: Mapping[str, str]) -> ForgeError:
    """Our error for the forge's answer `status` (with its `message`) to `what`."""
    detail = f"{what}: the forge answered {status}" + (f" ({message[:MAX_MESSAGE]})" if message else "")
    headers = {k.lower(): v for k, v in headers.items()}  # PyGithub lower-cases them, python-gitlab does not
    wait = retry_after(headers)
    # GitHub answers a spent rate limit with 403 (or 429) and says so in its headers: that one passes.
    limited = headers.get("x-ratelimit-remaining") == "0" or (status == 403 and "retry-after" in headers)
    if status == 429 or status >= 500 or status == 408 or limited:
        return ForgeUnavailable(detail, status, wait)
    if status in (401, 403):
        return ForgePermission(detail, status)
    if status == 404:
        return ForgeNotFound(detail, status)
    return ForgeInvalid(detail, status)


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from `Retry-After` (seconds or an HTTP date), else from a rate limit's reset time."""
    headers = {k.lower(): v for k, v in headers.items()}
    raw = headers.get("retry-after")
    if raw:
        try:
            return max(float(raw), 0.0)
        except ValueError:
            pass
        try:
            return max(email.utils.parsedate_to_datetime(raw).timestamp() - time.time(), 0.0)
        except (TypeError, ValueError):
            pass
    # GitHub: X-RateLimit-Reset; GitLab: RateLimit-Reset. Both are epoch seconds.
    reset = headers.get("x-ratelimit-reset") or headers.get("ratelimit-reset")
    if reset and reset.strip().isdigit():
        return max(int(reset) - time.time(), 0.0)
    return None


def transport_error(err: Exception, what: str) -> ForgeError:
    """Our error for a `requests` failure (timeout, no connection) during `what`; anything else is re-raised."""
    if isinstance(err, requests.Timeout):
        return ForgeUnavailable(f"{what}: the forge did not answer in time")
    if isinstance(err, requests.ConnectionError):
        return ForgeUnavailable(f"{what}: cannot connect to the forge")
    raise err
