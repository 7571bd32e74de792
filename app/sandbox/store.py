"""The sandbox Jira's state: one JSON file under `var/`, written atomically after every change.

The webhook outbox lives in the same file, so an event is recorded in the same write as the change that caused
it, and deliveries still pending when the sandbox stops are sent after it restarts.

Writes are group-committed: a change returns once a write that includes it is on disk, and changes made while one
write is under way share the next. The file holds every issue, so one write per change made the sandbox the slowest
part of a load of many runs (a 10 MB state rewritten for each comment); now many changes share each write.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from app.sandbox.seed import initial_state
from app.sandbox.shapes import jira_time

MAX_FAILED_KEPT = 50


class StateFile:
    """The state dict, guarded by one lock; `change()` saves it when the block ends."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock = threading.RLock()
        self.outbox_changed = threading.Condition(self.lock)
        self._writing = threading.Lock()  # one write at a time; taken without `lock` held (see `_commit`)
        self._depth = threading.local()  # this thread's nesting of `change()` blocks: it commits at the outermost
        self._changed = 0  # changes made (under `lock`)
        self._written = 0  # changes on disk (under `_writing`)
        if path.is_file():
            self.state: dict[str, Any] = json.loads(path.read_text())
        else:
            self.state = initial_state(jira_time())
            self._write(json.dumps(self.state))

    @contextmanager
    def read(self) -> Iterator[dict[str, Any]]:
        """Hold the lock while reading the state (a change made inside is written when this block ends)."""
        with self._outermost(), self.lock:
            yield self.state

    @contextmanager
    def change(self) -> Iterator[dict[str, Any]]:
        """Hold the lock, let the block mutate the state, then return once it is written (also when the block raised
        midway)."""
        with self._outermost(), self.lock:
            try:
                yield self.state
            finally:
                self._changed += 1

    @contextmanager
    def _outermost(self) -> Iterator[None]:
        """Count this thread's nesting of read() and change(); when the outermost ends (the lock released), write
        what was changed in it."""
        depth = getattr(self._depth, "value", 0)
        self._depth.value = depth + 1
        try:
            yield
        finally:
            self._depth.value = depth
            if depth == 0:
                with self.lock:
                    pending = self._changed
                if pending > self._written:  # re-checked under `_writing`
                    self._commit(pending)

    def _commit(self, change: int) -> None:
        """Return once change number `change` is on disk: written here, or by a write that started after it."""
        with self._writing:
            if self._written >= change:
                return  # a write made while we waited included our change
            with self.lock:
                text, upto = json.dumps(self.state), self._changed
            self._write(text)
            self._written = upto

    def next_id(self, counter: str) -> str:
        """The next id of a kind (issue, comment, changelog, link, attachment); call inside `change()`."""
        self.state["counters"][counter] = self.state["counters"].get(counter, 10000) + 1
        return str(self.state["counters"][counter])

    def reset(self) -> None:
        """Back to the seeded state (tests, `orchestrator sandbox serve --reset`)."""
        with self.change() as state:
            state.clear()
            state.update(initial_state(jira_time()))

    # --- the webhook outbox ---

    def enqueue(self, event: str, body: dict[str, Any]) -> None:
        """Record a webhook to deliver; call inside `change()`. The id is the delivery identifier, kept on retries."""
        self.state["outbox"].append(
            {"id": str(uuid.uuid4()), "event": event, "body": body, "attempts": 0, "next_at": 0.0}
        )
        self.outbox_changed.notify_all()

    def due(self, now: float) -> list[dict[str, Any]]:
        """Pending deliveries whose time has come, oldest first (copies)."""
        with self.lock:
            return [json.loads(json.dumps(d)) for d in self.state["outbox"] if d["next_at"] <= now]

    def next_due_in(self, now: float) -> float | None:
        """Seconds until the next pending delivery is due, or None when the outbox is empty."""
        with self.lock:
            if not self.state["outbox"]:
                return None
            return max(min(float(d["next_at"]) for d in self.state["outbox"]) - now, 0.0)

    def delivered(self, *delivery_ids: str) -> None:
        """Drop deliveries the receiver accepted (one write for them all)."""
        gone = set(delivery_ids)
        with self.change() as state:
            state["outbox"] = [d for d in state["outbox"] if d["id"] not in gone]

    def retry_later(self, delivery_id: str, delay: float) -> int:
        """Count an attempt and schedule the next one; returns the attempts so far."""
        with self.change() as state:
            for d in state["outbox"]:
                if d["id"] == delivery_id:
                    d["attempts"] += 1
                    d["next_at"] = time.time() + delay
                    return int(d["attempts"])
        return 0

    def give_up(self, delivery_id: str, reason: str) -> None:
        """Move a delivery to the failed list (kept short, for `show` and debugging)."""
        with self.change() as state:
            kept = [d for d in state["outbox"] if d["id"] != delivery_id]
            gone = [d for d in state["outbox"] if d["id"] == delivery_id]
            state["outbox"] = kept
            for d in gone:
                state["failed"] = [*state["failed"], {"id": d["id"], "event": d["event"], "reason": reason}][
                    -MAX_FAILED_KEPT:
                ]

    def _write(self, text: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".sandbox-", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)  # atomic: a crash leaves the old file or the new one, never half of one
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
