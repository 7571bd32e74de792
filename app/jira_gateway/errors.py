"""The gateway's error classes, and the one place a `jira`/`requests` failure is classified.

Messages name the method, the path and Jira's own `errorMessages`, never headers or bodies we sent: the
`jira` package's `JIRAError.__str__` prints the request headers, which carry the basic-auth token.
"""

from __future__ import annotations

import email.utils
import time
from typing import Any

import requests
from jira.exceptions import JIRAError

MAX_MESSAGE = 300


class JiraError(Exception):
    """Base of every error the gateway raises; `status` is Jira's HTTP status when there was one."""

    def __init__(self, message: str, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class AuthenticationError(JiraError):
    """401/403: the bot's credentials are refused or lack a permission; no retry can fix it."""


class ValidationError(JiraError):
    """400 (and other 4xx we cannot fix by waiting): the request itself is wrong."""


class JiraNotFound(JiraError):
    """404: the issue, comment or property does not exist (or the bot may not see it)."""


class JiraUnavailable(JiraError):
    """Transient: 429, 5xx, 409 conflicting update, timeouts and connection errors; worth retrying."""


def classify(err: BaseException, what: str) -> JiraError:
    """Turn a `JIRAError` or a `requests` failure during `what` (e.g. `GET issue/X`) into our classes."""
    if isinstance(err, JiraError):
        return err
    if isinstance(err, JIRAError):
        return _from_status(err.status_code, what, err.response)
    if isinstance(err, requests.Timeout):
        return JiraUnavailable(f"{what}: Jira did not answer in time")
    if isinstance(err, requests.ConnectionError):
        return JiraUnavailable(f"{what}: cannot connect to Jira")
    raise err


def _from_status(status: int | None, what: str, response: requests.Response | None) -> JiraError:
    detail = f"{what}: Jira answered {status}" + _messages(response)
    retry_after = _retry_after(response)
    if status in (401, 403):
        return AuthenticationError(detail, status)
    if status == 404:
        return JiraNotFound(detail, status)
    if status is None or status in (408, 409, 425, 429) or status >= 500:
        return JiraUnavailable(detail, status, retry_after)
    return ValidationError(detail, status)


def _messages(response: requests.Response | None) -> str:
    """Jira's `errorMessages` and `errors` (they describe the request, never echo credentials)."""
    if response is None:
        return ""
    try:
        data: Any = response.json()
    except ValueError:
        return ""
    if not isinstance(data, dict):
        return ""
    parts = [str(m) for m in data.get("errorMessages") or [] if m]
    errors = data.get("errors")
    if isinstance(errors, dict):
        parts += [f"{k}: {v}" for k, v in errors.items()]
    text = "; ".join(parts)
    return f" ({text[:MAX_MESSAGE]})" if text else ""


def _retry_after(response: requests.Response | None) -> float | None:
    """`Retry-After` in seconds: a number or an HTTP date (the `jira` package's `int()` breaks on dates)."""
    if response is None:
        return None
    raw = response.headers.get("Retry-After")
    if not raw:
        return None
    try:
        return max(float(raw), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - time.time(), 0.0)
