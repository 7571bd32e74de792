"""Fault injection for tests and demos: make the sandbox Jira misbehave on purpose, in memory only.

REST faults (`kind`): `429` (with `Retry-After`), `503` (with `Retry-After` if given), `delay` (answer late),
`lost` (apply the request, then answer 503 as if the answer was lost on the way), and the refusals no retry
fixes: `400` (a bad request), `401` (a revoked API token), `403` (a permission removed), `404` (a deleted comment
or issue) and `413` (too long). Each applies to the next `count` matching requests (or forever when `count` is
None), to a `fraction` of them, optionally only to one HTTP `method`, to paths containing `path` (or equal to
it, with `exact_path`) and to requests from one `account`.

Webhook faults: `duplicate` (deliver the next `count` webhooks twice, same identifier) and `reorder` (hold the
next `count` webhooks and deliver them in reverse order).

Driven through `POST /sandbox/faults` (JSON of the fields below), `DELETE /sandbox/faults`, or this class.
"""

from __future__ import annotations

import random
import threading
from dataclasses import asdict, dataclass, fields
from typing import Any

# A permanent refusal's kind is its status; the message is Jira's kind of wording for it.
REFUSALS = {
    "401": "Client must be authenticated to access this resource.",
    "400": "The request is invalid (sandbox fault).",
    "403": "You do not have the permission to do this (sandbox fault).",
    "404": "It does not exist or you do not have permission to see it (sandbox fault).",
    "413": "The request is too large (sandbox fault).",
}
API_KINDS = {"429", "503", "delay", "lost", *REFUSALS}
WEBHOOK_KINDS = {"duplicate", "reorder"}


class FaultError(ValueError):
    """A fault description the sandbox does not understand."""


@dataclass
class Fault:
    """One planned misbehaviour."""

    kind: str
    count: int | None = 1
    fraction: float = 1.0
    retry_after: float | None = None
    delay: float = 0.0
    method: str | None = None
    path: str | None = None
    exact_path: bool = False
    account: str | None = None  # only requests from this account (e.g. the bot's), not the people's

    def matches(self, method: str, path: str, account: str = "") -> bool:
        """Does this REST fault apply to the request?"""
        if self.account is not None and account != self.account:
            return False
        if self.path is not None and (path != self.path if self.exact_path else self.path not in path):
            return False
        return self.method is None or self.method.upper() == method.upper()


class Faults:
    """The planned faults, consumed as requests and deliveries happen (thread-safe)."""

    def __init__(self, seed: int | None = None) -> None:
        self._lock = threading.Lock()
        self._planned: list[Fault] = []
        self._random = random.Random(seed)  # chaos, not cryptography

    def add(self, fault: Fault) -> Fault:
        """Plan a fault (validated)."""
        if fault.kind not in API_KINDS | WEBHOOK_KINDS:
            raise FaultError(f"unknown fault kind {fault.kind!r}; expected one of {sorted(API_KINDS | WEBHOOK_KINDS)}")
        if fault.count is not None and fault.count < 1:
            raise FaultError("count must be at least 1 (or null for every request)")
        if not 0 < fault.fraction <= 1:
            raise FaultError("fraction must be in (0, 1]")
        with self._lock:
            self._planned.append(fault)
        return fault

    def add_json(self, data: Any) -> Fault:
        """Plan a fault from a JSON object with the fields of `Fault`."""
        if not isinstance(data, dict) or not isinstance(data.get("kind"), str):
            raise FaultError('expected a JSON object with at least "kind"')
        known = {f.name for f in fields(Fault)}
        unknown = set(data) - known
        if unknown:
            raise FaultError(f"unknown field(s) {sorted(unknown)}; known: {sorted(known)}")
        try:
            return self.add(Fault(**data))
        except TypeError as err:
            raise FaultError(str(err)) from None

    def clear(self) -> None:
        """Forget every planned fault."""
        with self._lock:
            self._planned.clear()

    def planned(self) -> list[dict[str, Any]]:
        """The faults still planned, as JSON."""
        with self._lock:
            return [asdict(f) for f in self._planned]

    def take_api(self, method: str, path: str, account: str = "") -> Fault | None:
        """The REST fault to apply to this request from `account`, if any (consumes one use)."""
        return self._take(lambda f: f.kind in API_KINDS and f.matches(method, path, account))

    def take_webhook(self, kind: str) -> Fault | None:
        """Consume one use of a webhook fault of `kind`, if planned."""
        return self._take(lambda f: f.kind == kind)

    def pop_webhook(self, kind: str) -> Fault | None:
        """Remove and return a planned webhook fault of `kind` whole (reorder applies to a batch at once)."""
        with self._lock:
            for fault in self._planned:
                if fault.kind == kind:
                    self._planned.remove(fault)
                    return fault
        return None

    def _take(self, wanted: Any) -> Fault | None:
        with self._lock:
            for fault in self._planned:
                if not wanted(fault):
                    continue
                if fault.fraction < 1 and self._random.random() >= fault.fraction:
                    continue  # spared by this fault; a later one may still apply (30 % 429 and 10 % 503)
                if fault.count is not None:
                    fault.count -= 1
                    if fault.count == 0:
                        self._planned.remove(fault)
                return fault
        return None
