"""What a coding CLI's failure was: refused credentials, a rate limit or overload, or the agent's own failure."""

from __future__ import annotations

import re
from collections.abc import Iterable

# Error kinds as the agent protocol names them (app/agent_client/protocol.py ERROR_KINDS).
PERMISSION = "PERMISSION_DENIED"  # not retried; the run's cause is `permission`
RETRYABLE = "AGENT_CRASHED"  # the dispatch activity retries it with back-off
AGENT = "AGENT_CRASHED"

# The providers' words for a refused key (HTTP 401/403, Anthropic's authentication_error, OpenAI's
# invalid_api_key, the CLIs' "please log in" hints) and for a rate limit or overload (HTTP 429/529,
# rate_limit_error, overloaded_error, usage limits).
_AUTH = re.compile(
    r"invalid[ _]api[ _]key|authentication_error|unauthori[sz]ed|\b401\b|\b403\b|permission_error|"
    r"please run /login|not logged in|oauth token has expired|missing (?:an )?api key|no api key",
    re.IGNORECASE,
)
_RATE = re.compile(
    r"rate[ _]limit|too many requests|\b429\b|\b529\b|overloaded|usage limit|quota",
    re.IGNORECASE,
)


def failure_kind(texts: Iterable[str]) -> tuple[str, str]:
    """The error kind of a failed run from what the CLI said, and the reason in words."""
    said = [text for text in texts if text]
    if any(_AUTH.search(text) for text in said):
        return PERMISSION, "the coding CLI refused its credentials"
    if any(_RATE.search(text) for text in said):
        return RETRYABLE, "the model provider is rate limiting or overloaded (retried)"
    return AGENT, "the coding CLI failed"
