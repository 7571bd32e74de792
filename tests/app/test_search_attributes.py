"""Search attributes missing in a namespace (issue 13, Low): `check` names them and the worker refuses to start."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from google.protobuf.duration_pb2 import Duration
from temporalio.api.operatorservice.v1 import DeleteNamespaceRequest
from temporalio.api.workflowservice.v1 import RegisterNamespaceRequest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from app.services.checks import check_search_attributes
from app.temporal.gateway import TemporalGateway
from app.temporal.search_attributes import missing_search_attributes
from app.worker.main import run_worker
from tests.conftest import make_settings

ALL = ["OrchestrationIssueKey", "OrchestrationProject", "OrchestrationPhase", "OrchestrationStatus"]


@pytest.fixture
async def bare_namespace(temporal_env: WorkflowEnvironment) -> AsyncIterator[Client]:
    """A namespace nobody registered the orchestration's search attributes in."""
    namespace = f"bare-{uuid.uuid4().hex[:10]}"
    await temporal_env.client.workflow_service.register_namespace(
        RegisterNamespaceRequest(namespace=namespace, workflow_execution_retention_period=Duration(seconds=86400))
    )
    target = temporal_env.client.service_client.config.target_host
    yield await Client.connect(target, namespace=namespace)
    await temporal_env.client.operator_service.delete_namespace(DeleteNamespaceRequest(namespace=namespace))


async def test_a_namespace_without_them_is_named_by_check_and_the_worker_refuses_it(
    temporal_env: WorkflowEnvironment, bare_namespace: Client, tmp_path: Path
) -> None:
    assert await missing_search_attributes(temporal_env.client) == []  # the session's namespace has them
    assert await missing_search_attributes(bare_namespace) == ALL

    target = temporal_env.client.service_client.config.target_host
    settings = make_settings(tmp_path, TEMPORAL_ADDRESS=target, TEMPORAL_NAMESPACE=bare_namespace.namespace)
    gateway = TemporalGateway(settings.temporal, timedelta(seconds=10))
    try:
        result = await asyncio.to_thread(check_search_attributes, gateway)
    finally:
        gateway.close()
    assert not result.ok and "lacks OrchestrationIssueKey, OrchestrationProject" in result.detail
    assert "temporal operator search-attribute create" in result.detail

    with pytest.raises(SystemExit, match=r"worker\.search-attributes-missing namespace bare-"):
        await run_worker(settings, asyncio.Event())
