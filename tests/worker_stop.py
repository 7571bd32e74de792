"""Running a test's Temporal worker for a block, stopping it within a bound, as the worker process does
(app/worker/stopping.py), but reporting a stop given up on as a warning instead of failing the test.

A test's assertions are over when its worker stops; what is left is a worker on a task queue of its own, so after
STOP_LIMIT the teardown says what is still pending (a WorkerStopAbandoned warning) and leaves it.
"""

from __future__ import annotations

import warnings
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TypeVar

from app.worker.stopping import Runnable, StopAbandoned
from app.worker.stopping import running as bounded

# A healthy worker stops in well under a second here; an activity still finishing gets a generous margin.
STOP_LIMIT = 45.0

W = TypeVar("W", bound=Runnable)


class WorkerStopAbandoned(UserWarning):
    """A test worker's stop did not return in time; the message holds what it was waiting on. Shown in the run's
    warnings summary (pyproject's filterwarnings lets this one through), so a recurrence says where it hangs."""


@asynccontextmanager
async def running(worker: W, stop_limit: float = STOP_LIMIT) -> AsyncIterator[W]:
    """Run `worker` for the block, stopping it within `stop_limit` s at its end; a worker that fails meanwhile
    stops the block and its error is raised (as `async with worker` does)."""
    try:
        async with bounded(worker, stop_limit):
            yield worker
    except StopAbandoned as abandoned:
        warnings.warn(WorkerStopAbandoned(str(abandoned)), stacklevel=1)
        if abandoned.__context__ is not None:
            raise abandoned.__context__ from None  # the block's own failure is the test's
