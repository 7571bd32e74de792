"""Tell git's refusals of the agent's credentials (a wrong or expired token, no write access) from other failures.

A refused credential fails every retry the same way, so the agent reports it as PERMISSION_DENIED (not retried)
instead of AGENT_CRASHED. The patterns are git's and the big code hosts' own words; anything else (a network
error, a rejected push, an unknown message) stays AGENT_CRASHED, which is retried.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_REFUSALS = re.compile(
    "|".join(
        (
            r"fatal: Authentication failed for ",  # https: the host refused the username/token
            r"fatal: could not read (Username|Password) for ",  # https: no credential, and no prompt allowed
            r"The requested URL returned error: 40[13]\b",  # https: 401 unauthorized, 403 forbidden
            r"Permission denied \((publickey|keyboard-interactive|password)",  # ssh: the key was refused
            r"^remote: Permission to \S+ denied to ",  # GitHub: the token lacks write access
            r"^remote: (HTTP Basic: )?Access denied\b",  # GitLab
            r"^remote: You are not allowed to (push|download) ",  # GitLab: no access to the project
            r"^remote: Invalid username or password\b",  # GitHub, Bitbucket
        )
    ),
    re.IGNORECASE,
)
_USERINFO = re.compile(r"//[^/@\s'\"]+@")


def credentials_refused(stderr: Iterable[str]) -> str | None:
    """The line of git's stderr that says the remote refused our credentials, or None when none does."""
    line = next((line.strip() for line in stderr if _REFUSALS.search(line.strip())), None)
    return None if line is None else without_userinfo(line)


def without_userinfo(text: str) -> str:
    """`text` with the user:password@ of any URL in it removed (git may echo a remote URL that carries them)."""
    return _USERINFO.sub("//", text)


def refusal_message(remote: str, what: str, line: str) -> str:
    """The job's one-line error: which remote refused the credentials, for what, in git's words (never a token)."""
    return f"{without_userinfo(remote)} refused the agent's git credentials ({what}): {line}"
