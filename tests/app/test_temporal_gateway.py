"""The sync gateway: one loop per process, usable from many threads, clear errors when Temporal is down."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from app.config import TemporalSettings
from app.temporal.gateway import TemporalGateway, TemporalUnavailable
from tests.conftest import free_port


def test_many_threads_share_one_loop_and_client(temporal_env: WorkflowEnvironment) -> None:
    address = temporal_env.client.service_client.config.target_host
    gateway = TemporalGateway(TemporalSettings(address=address))
    seen: set[tuple[int, int]] = set()
    lock = threading.Lock()

    async def probe(client: Client) -> bool:
        import asyncio

        with lock:
            seen.add((id(asyncio.get_running_loop()), id(client)))
        return await client.service_client.check_health()

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(lambda _: gateway.call(probe), range(64)))
    gateway.close()
    assert all(results)
    assert len(seen) == 1, "every call must run on the one loop with the one client"


def test_unreachable_temporal_is_a_clear_error_not_a_hang() -> None:
    address = f"127.0.0.1:{free_port()}"
    gateway = TemporalGateway(TemporalSettings(address=address), call_timeout=timedelta(seconds=8))
    started = time.monotonic()
    with pytest.raises(TemporalUnavailable) as err:
        gateway.call(lambda client: client.service_client.check_health())
    assert time.monotonic() - started < 8
    assert address in str(err.value)
    assert gateway.check() is not None
    gateway.close()


def test_api_key_never_appears_in_errors() -> None:
    secret = "tmprl-secret-key-123"
    settings = TemporalSettings(address=f"127.0.0.1:{free_port()}", api_key=secret, tls=True)
    gateway = TemporalGateway(settings, call_timeout=timedelta(seconds=8))
    problem = gateway.check()
    gateway.close()
    assert problem and secret not in problem
