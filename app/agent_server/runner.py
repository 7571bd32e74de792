"""Run one command line in its own process group, stream its output line by line, and kill it on request."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO

KILL_GRACE = 2.0  # seconds between SIGTERM and SIGKILL
POLL = 0.1
MAX_LINE = 8192


@dataclass(frozen=True)
class RunOutcome:
    """How a command ended: its exit code (None when it could not start), and whether we stopped it."""

    exit_code: int | None
    cancelled: bool = False
    timed_out: bool = False
    error: str = ""


LineSink = Callable[[str, str], None]  # (stream name "stdout"/"stderr", line)


def run_command(
    argv: list[str],
    cwd: Path,
    env: Mapping[str, str],
    stdin_text: str | None,
    timeout: float,
    on_line: LineSink,
    on_start: Callable[[int], None],
    cancel: threading.Event,
) -> RunOutcome:
    """Run `argv`; every output line goes to `on_line`; `cancel` or the timeout kill the whole process group."""
    try:
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.PIPE if stdin_text is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            # A new session makes the command a process-group leader, so a kill reaches its children too.
            start_new_session=True,
        )
    except OSError as err:
        return RunOutcome(None, error=f"could not start {argv[0]!r}: {err.strerror or err}")
    on_start(proc.pid)
    threads = [
        threading.Thread(target=_pump, args=(proc.stdout, "stdout", on_line), daemon=True),
        threading.Thread(target=_pump, args=(proc.stderr, "stderr", on_line), daemon=True),
    ]
    if stdin_text is not None:
        threads.append(threading.Thread(target=_feed, args=(proc.stdin, stdin_text), daemon=True))
    for thread in threads:
        thread.start()
    cancelled, timed_out = _wait(proc, timeout, cancel)
    # Children left behind by the command would keep its pipes open (and keep working): end the group.
    kill_group(proc.pid, signal.SIGKILL)
    for thread in threads:
        thread.join(timeout=5)
    return RunOutcome(proc.returncode, cancelled=cancelled, timed_out=timed_out)


def _wait(proc: subprocess.Popen[bytes], timeout: float, cancel: threading.Event) -> tuple[bool, bool]:
    deadline = time.monotonic() + timeout
    while True:
        try:
            proc.wait(timeout=POLL)
            return False, False
        except subprocess.TimeoutExpired:
            pass
        if cancel.is_set() or time.monotonic() >= deadline:
            stop_group(proc)
            return cancel.is_set(), not cancel.is_set()


def stop_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the command's process group, then SIGKILL it if it is still there after a grace period."""
    kill_group(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=KILL_GRACE)
    except subprocess.TimeoutExpired:
        kill_group(proc.pid, signal.SIGKILL)
        proc.wait()


def kill_group(pgid: int, sig: int) -> None:
    """Signal a process group; a group that is already gone is fine."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _pump(stream: IO[bytes] | None, name: str, on_line: LineSink) -> None:
    if stream is None:
        return
    with stream:
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            on_line(name, line[:MAX_LINE])


def _feed(stream: IO[bytes] | None, text: str) -> None:
    if stream is None:
        return
    # A command that exits without reading its stdin closes the pipe: that is its choice, not an error.
    with contextlib.suppress(BrokenPipeError, OSError), stream:
        stream.write(text.encode())


def process_start_time(pid: int) -> str | None:
    """The kernel's start time of a process (field 22 of /proc/<pid>/stat), to tell a pid from a reused one."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[-1].split()[19]
