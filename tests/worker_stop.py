"""Running a test's Temporal worker for a block, and stopping it within a bound.

The SDK's worker shutdown waits until core says every poll is over. Under load (the full suite on two cores, or
this test alone beside CPU hogs: 2 of 80 runs) it has been seen never to return after runs were ended with their
activities in flight: CI's teardown of tests/app/test_api.py hung for pytest-timeout's 240 s with the event loop
idle and every activity thread idle (2026-12-07). A test's assertions are over by then; what is left is a worker
on a task queue of its own, so after STOP_LIMIT the teardown says what is still pending and leaves it.
"""

from __future__ import annotations

import asyncio
import io
import warnings
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Protocol, TypeVar

# A healthy worker stops in well under a second here; an activity still finishing gets a generous margin.
STOP_LIMIT = 45.0


class WorkerStopAbandoned(UserWarning):
    """A test worker's stop did not return in time; the message holds what it was waiting on. Shown in the run's
    warnings summary (pyproject's filterwarnings lets this one through), so a recurrence says where it hangs."""


# Workers given up on, kept referenced so their tasks are not collected while pending.
_abandoned: list[asyncio.Task[None]] = []


class Runnable(Protocol):
    """What is run and stopped: a temporalio Worker."""

    async def run(self) -> None: ...

    async def shutdown(self) -> None: ...


W = TypeVar("W", bound=Runnable)


@asynccontextmanager
async def running(worker: W, stop_limit: float = STOP_LIMIT) -> AsyncIterator[W]:
    """Run `worker` for the block, stopping it within `stop_limit` s at its end; a worker that fails meanwhile
    stops the block and its error is raised (as `async with worker` does)."""
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
            message = f"worker stop abandoned after {stop_limit:.0f} s; pending:\n{_pending_tasks()}"
            warnings.warn(WorkerStopAbandoned(message), stacklevel=1)
            _abandoned.extend((run, stopping))
        elif not run.cancelled() and (error := run.exception()) is not None:
            raise error  # the worker failed: that is the test's failure (or why its block was cancelled)
        else:
            await stopping


def _pending_tasks() -> str:
    """Every pending task of the loop with where it waits: what a shutdown that never returns is waiting on."""
    out = io.StringIO()
    for task in asyncio.all_tasks():
        if not task.done() and task is not asyncio.current_task():
            out.write(f"{task.get_name()}: {task.get_coro()!r}\n")
            task.print_stack(limit=4, file=out)
    return out.getvalue()
