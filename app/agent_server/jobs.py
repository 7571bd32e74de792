"""One job on the agent: its numbered events (in memory and in an on-disk journal), its state and its cancel flag."""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from google.protobuf import json_format

from app.agent_client.credentials import mask, mask_map
from app.agent_client.proto import agent_pb2 as pb

ENDED = frozenset({pb.JOB_STATE_SUCCEEDED, pb.JOB_STATE_FAILED, pb.JOB_STATE_CANCELLED})
ACTIVE = frozenset({pb.JOB_STATE_WAITING, pb.JOB_STATE_RUNNING})
MAX_OUTPUT = 16_000  # characters per output value: results travel into workflow history
MAX_LINE = 4_000  # characters per output line (a line with no newline in megabytes is still one event)


def journal_dir(root: Path, job_id: str) -> Path:
    """Where a job's journal lives (a readable, collision-free folder name)."""
    digest = hashlib.sha256(job_id.encode()).hexdigest()[:12]
    return root / f"{re.sub(r'[^A-Za-z0-9._-]', '_', job_id)[:80]}-{digest}"


class Journal:
    """A job's events (`events.jsonl`) and state (`state.json`) on disk, so a restarted agent replays them."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> tuple[list[pb.ExecuteEvent], dict[str, Any]] | None:
        """The stored events and state, or None for a job this agent never saw."""
        state_file = self.path / "state.json"
        if not state_file.is_file():
            return None
        state = json.loads(state_file.read_text())
        events = []
        events_file = self.path / "events.jsonl"
        if events_file.is_file():
            for line in events_file.read_text().splitlines():
                try:
                    events.append(json_format.Parse(line, pb.ExecuteEvent()))
                except json_format.ParseError:
                    continue  # a line cut short by a crash mid-write
        return events, state

    def append(self, event: pb.ExecuteEvent) -> None:
        """Add one event."""
        self.path.mkdir(parents=True, exist_ok=True)
        with (self.path / "events.jsonl").open("a") as handle:
            handle.write(json_format.MessageToJson(event, indent=None) + "\n")

    def save_state(self, state: dict[str, Any]) -> None:
        """Replace the state atomically."""
        self.path.mkdir(parents=True, exist_ok=True)
        tmp = self.path / "state.json.tmp"
        tmp.write_text(json.dumps(state))
        tmp.replace(self.path / "state.json")


class Job:
    """A job: followers wait on it for events after a cursor; the runner thread emits them."""

    def __init__(self, job_id: str, command: str, issue_key: str, journal: Journal) -> None:
        self.job_id = job_id
        self.command = command
        self.issue_key = issue_key
        self.journal = journal
        self.events: list[pb.ExecuteEvent] = []
        self.state: int = pb.JOB_STATE_WAITING
        self.run_start_seq = 1  # a result with a smaller seq ended an earlier run and is never replayed
        self.pid: int | None = None
        self.pid_start: str | None = None
        self.cancel = threading.Event()
        self.interrupting = False  # the agent is stopping: end without a result, so the next Execute reruns
        self.secrets: tuple[str, ...] = ()
        self.max_lines, self.max_bytes = 100_000, 50 * 1024 * 1024  # the output cap (AGENT_MAX_OUTPUT_*)
        self.lines = self.bytes = self.dropped = 0  # this run's output kept, and dropped past the cap
        self._cond = threading.Condition()

    @classmethod
    def restore(cls, journal: Journal, events: list[pb.ExecuteEvent], state: dict[str, Any]) -> Job:
        """A job as its journal left it."""
        job = cls(state["job_id"], state["command"], state["issue_key"], journal)
        job.events = events
        job.state = pb.JobState.Value(state["state"])
        job.run_start_seq = int(state.get("run_start_seq", 1))
        return job

    @property
    def next_seq(self) -> int:
        """The seq the next event gets."""
        return self.events[-1].seq + 1 if self.events else 1

    def final_event(self) -> pb.ExecuteEvent | None:
        """The event holding the latest run's result, once it has one."""
        last = self.events[-1] if self.events else None
        if last is not None and last.HasField("result") and last.seq >= self.run_start_seq:
            return last
        return None

    def final_result(self) -> pb.Result | None:
        """The result of the latest run, once it has one."""
        final = self.final_event()
        return final.result if final is not None else None

    def begin_run(self, secrets: Iterable[str]) -> None:
        """Start a (new) run: results of earlier runs no longer count."""
        with self._cond:
            self.run_start_seq = self.next_seq
            self.lines = self.bytes = self.dropped = 0
            self.state = pb.JOB_STATE_WAITING
            self.cancel.clear()
            self.interrupting = False
            self.secrets = tuple(secrets)
            self.save_state()

    def set_state(self, state: int, pid: int | None = None, pid_start: str | None = None) -> None:
        """Record a state change (and the running process, so a restarted agent can kill a leftover)."""
        with self._cond:
            self.state, self.pid, self.pid_start = state, pid, pid_start
            self.save_state()
            self._cond.notify_all()

    def save_state(self) -> None:
        """Write the state file."""
        self.journal.save_state(
            {
                "job_id": self.job_id,
                "command": self.command,
                "issue_key": self.issue_key,
                "state": pb.JobState.Name(self.state),
                "run_start_seq": self.run_start_seq,
                "pid": self.pid,
                "pid_start": self.pid_start,
            }
        )

    def output(self, level: int, line: str, stage: str) -> None:
        """A line of the command's output: kept within the run's cap; past it, one line says so and the rest is
        dropped (the runner's tail still holds the last lines for the result)."""
        if self.dropped:
            self.dropped += 1
            return
        line = line if len(line) <= MAX_LINE else line[:MAX_LINE] + f" … ({len(line) - MAX_LINE} more characters)"
        self.lines += 1
        self.bytes += len(line.encode())
        if self.lines > self.max_lines or self.bytes > self.max_bytes:
            self.dropped = 1
            self.log(
                pb.LOG_LEVEL_WARNING,
                f"output truncated: this command printed more than {self.max_lines} lines or {self.max_bytes} "
                "bytes; later lines are not kept (the last lines still reach the result)",
                stage,
            )
            return
        self.log(level, line, stage)

    def log(self, level: int, message: str, stage: str) -> None:
        """Emit a log line (secrets masked)."""
        self._emit(pb.ExecuteEvent(log=pb.LogLine(level=level, message=mask(message, self.secrets), stage=stage)))  # type: ignore[arg-type]

    def progress(self, stage: str, percent: int, message: str) -> None:
        """Emit a progress event."""
        self._emit(pb.ExecuteEvent(progress=pb.Progress(stage=stage, percent=percent, message=message)))

    def finish(self, result: pb.Result) -> None:
        """Emit the run's one result and record how the job ended."""
        result.summary = mask(result.summary, self.secrets)
        result.error_message = mask(result.error_message, self.secrets)
        result.result = mask(result.result, self.secrets)
        outputs = mask_map(result.outputs, self.secrets)
        result.outputs.clear()
        result.outputs.update({key: value[-MAX_OUTPUT:] for key, value in outputs.items()})
        self._emit(pb.ExecuteEvent(result=result))
        if result.success:
            state = pb.JOB_STATE_SUCCEEDED
        elif result.error_kind == pb.ERROR_KIND_CANCELLED:
            state = pb.JOB_STATE_CANCELLED
        else:
            state = pb.JOB_STATE_FAILED
        self.set_state(state)

    def _emit(self, event: pb.ExecuteEvent) -> None:
        with self._cond:
            event.seq = self.next_seq
            event.time.GetCurrentTime()
            self.events.append(event)
            self.journal.append(event)
            self._cond.notify_all()

    def events_after(self, seq: int, timeout: float) -> list[pb.ExecuteEvent]:
        """Events after `seq` (waiting up to `timeout` for one), leaving out results of earlier runs."""
        with self._cond:
            self._cond.wait_for(lambda: self.next_seq - 1 > seq or self.state not in ACTIVE, timeout)
            return [e for e in self.events if e.seq > seq and (not e.HasField("result") or e.seq >= self.run_start_seq)]

    def wait_ended(self, timeout: float) -> bool:
        """Wait until the job is no longer waiting or running."""
        with self._cond:
            return self._cond.wait_for(lambda: self.state not in ACTIVE, timeout)
