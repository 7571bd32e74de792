"""What the sandbox was asked: each REST request's time, caller, method, path and answer, kept for inspection.

Chaos tests and benchmarks read it (`GET /sandbox/requests`) to count the bot's writes per issue, find bursts over
Jira's per-issue write limit, and see that a refusal did not start a retry storm. In memory, bounded.
"""

from __future__ import annotations

import re
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass
from typing import Any

KEEP = 200_000  # requests remembered; a chaos run of twenty issues makes a few thousand
WRITES = {"POST", "PUT", "DELETE"}
_ISSUE = re.compile(r"/issue/([A-Z][A-Z0-9_]*-\d+)(?:/|$)")


@dataclass(frozen=True)
class Request:
    """One REST request as the sandbox answered it."""

    at: float
    account: str
    method: str
    path: str
    status: int

    @property
    def issue(self) -> str | None:
        """The issue key the request is about, when its path names one."""
        found = _ISSUE.search(self.path)
        return found.group(1) if found else None


class Traffic:
    """The last `KEEP` REST requests (thread-safe)."""

    def __init__(self, keep: int = KEEP) -> None:
        self._lock = threading.Lock()
        self._requests: deque[Request] = deque(maxlen=keep)

    def record(self, account: str, method: str, path: str, status: int) -> None:
        """Remember one answered request."""
        with self._lock:
            self._requests.append(Request(time.time(), account, method.upper(), path, status))

    def requests(self, since: float = 0.0) -> list[dict[str, Any]]:
        """The requests answered at or after `since` (epoch seconds), oldest first, as JSON."""
        with self._lock:
            return [{**asdict(r), "issue": r.issue} for r in self._requests if r.at >= since]

    def clear(self) -> None:
        """Forget every request."""
        with self._lock:
            self._requests.clear()
