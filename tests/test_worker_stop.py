"""The bound on a test worker's stop: a stop that never returns is left after the limit, a failure is raised."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.worker_stop import WorkerStopAbandoned, running


class NeverStops:
    """A worker whose shutdown never returns (what CI saw the SDK's do, rarely, under load)."""

    def __init__(self) -> None:
        self.asked = asyncio.Event()

    async def run(self) -> None:
        await asyncio.Event().wait()

    async def shutdown(self) -> None:
        self.asked.set()
        await asyncio.Event().wait()


class Fails:
    """A worker that fails while the block runs."""

    async def run(self) -> None:
        raise RuntimeError("poller failed")

    async def shutdown(self) -> None:
        return None


class Stops:
    """A worker that stops when asked."""

    def __init__(self) -> None:
        self.stop = asyncio.Event()

    async def run(self) -> None:
        await self.stop.wait()

    async def shutdown(self) -> None:
        self.stop.set()


async def test_a_stop_that_never_returns_is_left_after_the_limit() -> None:
    worker = NeverStops()
    started = time.monotonic()
    with pytest.warns(WorkerStopAbandoned) as warned:
        async with running(worker, stop_limit=0.2):
            pass
    assert worker.asked.is_set()
    assert 0.2 <= time.monotonic() - started < 5
    message = str(warned[0].message)
    assert message.startswith("worker stop abandoned after 0 s; pending:")
    assert "NeverStops.run" in message  # where the pending run waits


async def block_until_cancelled() -> None:
    async with running(Fails()):
        await asyncio.Event().wait()  # cancelled when the worker fails


async def test_a_worker_that_fails_cancels_the_block_and_its_error_is_raised() -> None:
    with pytest.raises(RuntimeError, match="poller failed"):
        await block_until_cancelled()


async def test_a_worker_that_stops_when_asked_is_waited_for() -> None:
    worker = Stops()
    async with running(worker):
        pass
    assert worker.stop.is_set()
