"""The web process SIGKILLed during a burst of deliveries: with Jira's retries and the delivery store, exactly one
effect per event (each comment command answered once, none lost)."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from app.sandbox.people import SandboxPerson
from tests.chaos.issues import bot_comments
from tests.chaos.report import Figures, scale
from tests.e2e.harness import close_site, eventually, listening, open_site, start_processes

pytestmark = [pytest.mark.e2e, pytest.mark.chaos]

ANSWER = "There is no run on this issue"
KEYS = ["DEMO-1", "DEMO-2", "DEMO-3", "OPS-1", "OPS-2"]


async def test_each_delivery_acts_once_when_the_web_is_killed_during_a_burst(
    temporal_env: WorkflowEnvironment, tmp_path: Path, figures: Figures
) -> None:
    events = scale(200, 10)
    # Every command answered (no quiet window for repeated answers to one person), so each event's effect shows.
    site = await open_site(temporal_env, tmp_path, agents=1, ORCHESTRATOR_REFUSAL_QUIET="0")
    stack = site.stack
    try:
        await start_processes(site, [0])
        reviewer = SandboxPerson(stack.jira_url, "reviewer")
        web = f"127.0.0.1:{stack.env['WEB_PORT']}"
        started = time.monotonic()
        for n in range(events):
            # A command on an issue without a run: the one effect is one answer on the issue, per comment.
            reviewer.comment(KEYS[n % len(KEYS)], "/status")
            if n == events // 3:
                stack.kill("web")  # mid-burst: deliveries in flight and queued meet a dead web
                down = time.monotonic()
            if n == 2 * events // 3:
                stack.start("web", "web")
                await eventually(stack, lambda: listening(web), "the web process again")
                up = time.monotonic()

        def answered() -> int:
            return sum(ANSWER in c for key in KEYS for c in bot_comments(stack, key))

        def outbox() -> dict[str, list[object]]:
            with urllib.request.urlopen(f"{stack.jira_url}/sandbox/outbox", timeout=10) as answer:  # noqa: S310
                found: dict[str, list[object]] = json.loads(answer.read())
                return found

        await eventually(stack, lambda: answered() >= events and not outbox()["pending"], "every answer", 240)
        await asyncio.sleep(3)  # a late duplicate would show by now (deliveries are retried within seconds)
        answers, left = answered(), outbox()
        wall = time.monotonic() - started
    finally:
        await close_site(site)

    scenario = f"The web SIGKILLed during a burst of {events} comment deliveries, started again {up - down:.0f} s later"
    figures.add(scenario, "Commands answered (one effect per event)", f"{answers}/{events}", f"{events}/{events}")
    figures.add(scenario, "Deliveries the sandbox gave up on", len(left["failed"]), 0)
    figures.add(scenario, "Wall time (s)", round(wall))
    assert answers == events
    assert not left["failed"], left
