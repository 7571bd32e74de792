"""Following one Execute stream from an activity: a reader thread, the resume cursor, batched log storage."""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import grpc
from sqlalchemy.orm import Session, sessionmaker

from app.agent_client.credentials import mask
from app.agent_client.proto import agent_pb2 as pb
from app.agent_client.protocol import LOG_LEVEL_NAMES
from app.store.job_logs import LogLine, store_lines

FLUSH_LINES = 200
TAIL_LINES = 20
TAIL_CHARS = 4000  # the last output travels into workflow history with the outcome


@dataclass
class Cursor:
    """The heartbeat details: the last event stored, and the seq of a crash result the caller already saw."""

    seq: int = 0
    failed_seq: int = 0

    @classmethod
    def from_details(cls, details: Iterable[Any]) -> Cursor:
        """The cursor a previous attempt heartbeated (a dict once it has been through the payload converter)."""
        for detail in details:
            if isinstance(detail, Cursor):
                return detail
            if isinstance(detail, dict):
                return cls(int(detail.get("seq", 0)), int(detail.get("failed_seq", 0)))
        return cls()


@dataclass(frozen=True)
class StreamEnd:
    """The stream ended; `error` is the gRPC error, or None when it closed without a result."""

    error: grpc.RpcError | None


class StreamReader:
    """Reads a server stream on its own thread, so the activity can heartbeat and notice cancellation meanwhile."""

    def __init__(self, call: Iterator[pb.ExecuteEvent]) -> None:
        self._queue: queue.Queue[pb.ExecuteEvent | StreamEnd] = queue.Queue()
        self._thread = threading.Thread(target=self._read, args=(call,), name="agent-stream", daemon=True)
        self._thread.start()

    def _read(self, call: Iterator[pb.ExecuteEvent]) -> None:
        try:
            for event in call:
                self._queue.put(event)
        except grpc.RpcError as err:
            self._queue.put(StreamEnd(err))
            return
        self._queue.put(StreamEnd(None))

    def next(self, timeout: float) -> pb.ExecuteEvent | StreamEnd | None:
        """The next event or the end; None when nothing came within `timeout`."""
        try:
            return self._queue.get(timeout=timeout)
        except queue.Empty:
            return None


@dataclass
class LogBuffer:
    """Log lines waiting to be stored (in batches), and the recent tail for the outcome."""

    session_factory: sessionmaker[Session]
    job_id: str
    secrets: tuple[str, ...]
    pending: list[LogLine] = field(default_factory=list)
    tail: deque[str] = field(default_factory=lambda: deque(maxlen=TAIL_LINES))

    def add(self, event: pb.ExecuteEvent) -> None:
        """Buffer a log line or a progress event (stored as level PROGRESS, so subscribers see stage changes)."""
        when = event.time.ToDatetime(tzinfo=UTC) if event.HasField("time") else datetime.now(UTC)
        if event.HasField("log"):
            message = mask(event.log.message, self.secrets)
            level, stage = LOG_LEVEL_NAMES.get(event.log.level, "INFO"), event.log.stage
            self.tail.append(message)
        else:
            message = mask(f"{event.progress.percent}% {event.progress.message}", self.secrets)
            level, stage = "PROGRESS", event.progress.stage
        self.pending.append(LogLine(self.job_id, event.seq, level, stage, message, when))
        if len(self.pending) >= FLUSH_LINES:
            self.flush()

    def flush(self) -> None:
        """Store what is buffered (idempotent per (job, seq))."""
        if self.pending:
            store_lines(self.session_factory, self.pending)
            self.pending = []

    def last_output(self) -> str:
        """The recent output, bounded."""
        return "\n".join(self.tail)[-TAIL_CHARS:]


class Beat:
    """Our own heartbeat pacing: at most one store-and-heartbeat per interval, and one while the agent is quiet."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._last = 0.0

    def due(self) -> bool:
        """Whether a heartbeat is due now (and mark it sent)."""
        now = time.monotonic()
        if now - self._last >= self.interval:
            self._last = now
            return True
        return False
