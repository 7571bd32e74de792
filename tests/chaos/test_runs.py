"""Concurrent runs through their gates while the worker is SIGKILLed at random moments (issue 13's chaos suite).

Every run must end as it should (Done, its status comment saying Completed) with nothing said or done twice: one
status comment, each gate comment once, one summary, one link, each status transition once, each chat notification
once; and the bot never writes more than Jira's per-issue limit allows (20 writes in 2 s).
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections import Counter
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from app.sandbox.people import SandboxPerson
from tests.chaos.issues import (
    BURST_LIMIT,
    TRIGGER,
    GateDriver,
    finished,
    max_burst,
    now,
    outcome,
    requests_since,
)
from tests.chaos.report import Figures, scale
from tests.e2e.harness import close_site, eventually, open_site, start_processes
from tests.webhook_listener import Listener

pytestmark = [pytest.mark.e2e, pytest.mark.chaos]

SEED = int(os.environ.get("CHAOS_SEED", "13"))
GATES = 2  # EXPLORE and PLAN, the default ORCHESTRATOR_GATES


async def test_concurrent_runs_end_once_each_through_worker_kills(
    temporal_env: WorkflowEnvironment, tmp_path: Path, listener: Listener, figures: Figures
) -> None:
    runs, kills, agents = scale(20, 3), scale(5, 1), 2
    site = await open_site(
        temporal_env, tmp_path, agents=agents, ORCHESTRATOR_AUTO_PROCEED="false", NOTIFY_WEBHOOK_URL=listener.url
    )
    stack = site.stack
    rng = random.Random(SEED)
    try:
        await start_processes(site, list(range(agents)))
        reporter = SandboxPerson(stack.jira_url, "reporter")
        # Half in each project: each project's jobs run one at a time (the seed's queue), the projects in parallel.
        keys = ["DEMO-1", "OPS-1", "DEMO-2", "OPS-2", "DEMO-3"][:runs]
        while len(keys) < runs:
            project = ("DEMO", "OPS")[len(keys) % 2]
            keys.append(reporter.create(f"Chaos run {len(keys) + 1}: add a greeting", project=project))
        since, started = now(), time.monotonic()
        for key in keys:
            reporter.label(key, TRIGGER)
        driver = GateDriver(stack, keys)
        next_kill, killed = time.monotonic() + rng.uniform(5, 20), 0
        deadline = time.monotonic() + scale(1800, 420)

        while not all(finished(stack, key) for key in keys):
            assert time.monotonic() < deadline, f"runs unfinished: {[k for k in keys if not finished(stack, k)]}"
            driver.step()
            if killed < kills and time.monotonic() >= next_kill:
                stack.kill("worker")
                stack.start("worker", "worker")
                killed += 1
                next_kill = time.monotonic() + rng.uniform(5, 30)
            await asyncio.sleep(0.5)
        wall = time.monotonic() - started

        ended = [outcome(stack, key) for key in keys]
        # Notifications trail the status comment by one background send: wait for every completion's.
        await eventually(
            stack,
            lambda: sum(": completed." in t for t in listener.events()) == runs,
            "every completion's notification",
        )
        keys_sent = Counter(r.headers["Idempotency-Key"] for r in listener.requests)
        requests = requests_since(stack, since)
    finally:
        await close_site(site)

    scenario = f"{runs} concurrent runs, the worker SIGKILLed {kills} times at random moments (seed {SEED})"
    as_they_should = sum(
        o.status == "Done" and o.status_comments == 1 and o.gate_comments == GATES and o.summaries == 1 for o in ended
    )
    figures.add(scenario, "Runs ended as they should (Done, Completed, 2 gates, 1 summary)", f"{as_they_should}/{runs}",
                f"{runs}/{runs}")  # fmt: skip
    figures.add(scenario, "Worker SIGKILLs", killed, kills)
    figures.add(scenario, "Duplicated comments", sum(o.duplicate_comments for o in ended), 0)
    figures.add(scenario, "Status comments per issue", sorted({o.status_comments for o in ended}), [1])
    figures.add(scenario, "Duplicated remote links", sum(max(0, o.links - 1) for o in ended), 0)
    figures.add(scenario, "Duplicated status transitions", sum(o.duplicate_moves for o in ended), 0)
    # A notification is sent at least once, under one Idempotency-Key per run and event: a worker killed between
    # the send and its record sends it again under the same key (a receiver honouring the key shows it once).
    resent = sum(n - 1 for n in keys_sent.values())
    figures.add(scenario, "Chat notifications (distinct run and event keys)", len(keys_sent), runs * (GATES + 1))
    figures.add(scenario, "… sent again under the same key after a kill", resent, f"≤ {kills}")
    figures.add(scenario, "Most bot writes to one issue in 2 s", max_burst(requests), f"≤ {BURST_LIMIT}")
    figures.add(scenario, "Wall time (s)", round(wall))
    assert as_they_should == runs, ended
    assert killed == kills
    assert sum(o.duplicate_comments for o in ended) == 0, ended
    assert all(o.links == 1 for o in ended), ended
    assert sum(o.duplicate_moves for o in ended) == 0, ended
    assert resent <= kills, keys_sent
    assert len(keys_sent) == runs * (GATES + 1), listener.events()
    assert max_burst(requests) <= BURST_LIMIT
