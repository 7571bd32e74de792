"""The Temporal server (file-backed dev server) stopped in the middle of runs and started again: all complete."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from temporalio.client import Client

from app.sandbox.people import SandboxPerson
from app.store.db import make_engine
from tests.chaos.issues import TRIGGER, bot_comments, finished, outcome
from tests.chaos.report import Figures, scale
from tests.chaos.temporal_server import FileBackedServer
from tests.e2e.harness import Site, Stack, eventually, start_processes

pytestmark = [pytest.mark.e2e, pytest.mark.chaos]


async def test_runs_complete_after_the_temporal_server_is_stopped_and_started_again(
    tmp_path: Path, figures: Figures
) -> None:
    runs, down_s = scale(4, 2), scale(30, 5)
    server = FileBackedServer(tmp_path)
    await asyncio.to_thread(server.start)
    stack = Stack(tmp_path, server.address, agents=1)
    stack.env.update(TEMPORAL_NAMESPACE="default", ORCHESTRATOR_AUTO_PROCEED="true")
    engine = make_engine(stack.env["DATABASE_URL"])
    try:
        site = Site(stack, await Client.connect(server.address), engine)
        await start_processes(site, [0])
        keys = ["DEMO-1", "OPS-1", "DEMO-2", "OPS-2"][:runs]
        reporter = SandboxPerson(stack.jira_url, "reporter")
        for key in keys:
            reporter.label(key, TRIGGER)

        def in_code(key: str) -> bool:
            comments = bot_comments(stack, key)
            return bool(comments) and "|CODE|⏳|" in comments[0]

        await eventually(stack, lambda: in_code(keys[0]), "the first run's CODE phase", 120)
        server.stop()
        stopped = time.monotonic()
        await asyncio.sleep(down_s)  # the processes meet a server that is gone, for this long
        await asyncio.to_thread(server.start)
        restarted = time.monotonic()

        all_finished = lambda: all(finished(stack, k) for k in keys)  # noqa: E731
        await eventually(stack, all_finished, "every run to complete", scale(900, 200))
        recovered = time.monotonic() - restarted
        ended = [outcome(stack, key) for key in keys]
    finally:
        stack.stop()
        server.stop()
        engine.dispose()

    scenario = f"The Temporal dev server (file-backed) stopped for {down_s} s during {runs} runs, then started again"
    ok = sum(o.status == "Done" and o.status_comments == 1 and o.summaries == 1 for o in ended)
    figures.add(scenario, "Runs completed", f"{ok}/{runs}", f"{runs}/{runs}")
    figures.add(scenario, "Duplicated comments", sum(o.duplicate_comments for o in ended), 0)
    figures.add(scenario, "Duplicated status transitions", sum(o.duplicate_moves for o in ended), 0)
    figures.add(scenario, "Server down (s)", round(restarted - stopped))
    figures.add(scenario, "Restart → every run complete (s)", round(recovered))
    assert ok == runs, ended
    assert sum(o.duplicate_comments for o in ended) == 0, ended
    assert sum(o.duplicate_moves for o in ended) == 0, ended
