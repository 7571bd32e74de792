"""Fixtures of the end-to-end tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from tests.e2e.harness import Stack, drop_namespace, own_namespace
from tests.webhook_listener import Listener


@pytest.fixture
async def stack(
    temporal_env: WorkflowEnvironment, tmp_path: Path, empty_database_url: str, listener: Listener
) -> AsyncIterator[Stack]:
    """Sandbox Jira, demo agent, web and worker as `make run` starts them, in a Temporal namespace of their own.

    Once on SQLite (the embedded default) and once on PostgreSQL: every process on the same real database.

    The namespace keeps the fixed ids (`orchestration-DEMO-1`, the worker's schedules) away from other tests, and
    dropping it at the end removes the schedules, which would otherwise go on firing for the rest of the session.
    """
    client = await own_namespace(temporal_env)
    running = Stack(tmp_path, temporal_env.client.service_client.config.target_host, database_url=empty_database_url)
    running.env["TEMPORAL_NAMESPACE"] = client.namespace
    running.env["NOTIFY_WEBHOOK_URL"] = listener.url  # the chat notifications go to a local receiver
    try:
        for name, args in (
            ("sandbox", ["sandbox", "serve"]),
            ("agent", ["agent"]),
            ("web", ["web"]),
            ("worker", ["worker"]),
        ):
            running.start(name, *args)
        yield running
    finally:
        running.stop()
        await drop_namespace(temporal_env, client, running.schedule_ids())
