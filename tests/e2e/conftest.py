"""Fixtures of the end-to-end tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from tests.e2e.harness import Stack


@pytest.fixture
def stack(temporal_env: WorkflowEnvironment, tmp_path: Path) -> Iterator[Stack]:
    """Sandbox Jira, demo agent, web and worker running, as `make run` starts them (Temporal: the session server)."""
    running = Stack(tmp_path, temporal_env.client.service_client.config.target_host)
    for name, args in (
        ("sandbox", ["sandbox", "serve"]),
        ("agent", ["agent"]),
        ("web", ["web"]),
        ("worker", ["worker"]),
    ):
        running.start(name, *args)
    yield running
    running.stop()
