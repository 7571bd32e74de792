"""Running a Temporal worker for a block and stopping it within a bound.

The SDK's worker shutdown waits until core says every poll and in-flight task is over. Under load it has been seen
never to return after runs were ended with their activities in flight (the test suite on two cores, 2026-12-07:
the event loop idle, every activity thread idle, "Beginning worker shutdown" logged, nothing after). A worker
process that hangs there on SIGTERM would never restart, and its supervisor would wait on it for good. So a stop
is waited for up to a limit, and past it the caller is told what is still pending (StopAbandoned): the worker
process logs that and exits non-zero (app/worker/main.py), and Temporal gives whatever the worker held to another
worker when its timeouts pass, as for a crashed one.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Protocol, TypeVar

# Tasks of workers given up on, kept referenced so they are not collected while pending.
_abandoned: list[asyncio.Future[None]] = []


class StopAbandoned(RuntimeError):
    """The worker's stop did not return within `seconds`; `pending` lists every pending task and where it waits."""

    def __init__(self, seconds: float, pending: str, stopping: asyncio.Future[None] | None = None) -> None:
        super().__init__(f"worker stop abandoned after {seconds:.0f} s; pending:\n{pending}")
        self.seconds = seconds
        self.pending = pending
        self.stopping = stopping  # the stop, still under way: whoever can wait longer may await it


class Runnable(Protocol):
    """What is run and stopped: a temporalio Worker."""

    async def run(self) -> None: ...

    async def shutdown(self) -> None: ...


W = TypeVar("W", bound=Runnable)


@asynccontextmanager
async def running(worker: W, stop_limit: float) -> AsyncIterator[W]:
    """Run `worker` for the block and stop it at its end, waiting at most `stop_limit` s (else StopAbandoned); a
    worker that fails meanwhile cancels the block and its error is raised (as `async with worker` does)."""
    body = asyncio.current_task()
    assert body is not None
    run = asyncio.create_task(worker.run())
    leaving = False

    def failed(task: asyncio.Task[None]) -> None:
        if not leaving and not task.cancelled() and task.exception() is not None:
            body.cancel()

    run.add_done_callback(failed)
    try:
        yield worker
    finally:
        leaving = True
        stopping = asyncio.ensure_future(worker.shutdown())
        await asyncio.wait({run}, timeout=stop_limit)
        if not run.done():
            _abandoned.extend((run, stopping))
            raise StopAbandoned(stop_limit, pending_tasks(), stopping)
        if not run.cancelled() and (error := run.exception()) is not None:
            raise error  # the worker failed: that is the caller's failure (or why its block was cancelled)
        await stopping


def pending_tasks() -> str:
    """Every pending task of the loop with where it waits: what a stop that never returns is waiting on."""
    out = io.StringIO()
    for task in asyncio.all_tasks():
        if not task.done() and task is not asyncio.current_task():
            out.write(f"{task.get_name()}: {task.get_coro()!r}\n")
            task.print_stack(limit=4, file=out)
    return out.getvalue()
