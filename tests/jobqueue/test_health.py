"""Agent health (seed properties 23-26): the gRPC health ping with its 5 s deadline, and counting its answers."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from grpc_health.v1 import health_pb2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session, sessionmaker

from activities.agent_health import AgentHealthActivities, AgentQuery, HealthObservation, HealthProbe
from app.config import AgentSettings
from app.jobqueue import agents
from tests.jobqueue.conftest import add_agents, wipe
from tests.jobqueue.health_server import HealthServer

AGENT = "10.0.0.1:50051"


@pytest.fixture
def health_server() -> Iterator[HealthServer]:
    server = HealthServer()
    yield server
    server.stop()


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(answers=st.lists(st.booleans(), min_size=1, max_size=12), offline_after=st.integers(1, 4))
def test_failures_count_up_success_resets_and_the_nth_failure_means_offline(
    factory: sessionmaker[Session], answers: list[bool], offline_after: int
) -> None:
    wipe(factory)
    add_agents(factory, AGENT)
    activities = AgentHealthActivities(factory, AgentSettings(), "token", offline_after)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    streak, offline = 0, False
    for n, ok in enumerate(answers):
        observation = HealthObservation(AGENT, ok, "" if ok else "UNAVAILABLE", start + timedelta(seconds=n))
        change = activities.record_agent_health(observation)
        assert activities.record_agent_health(observation) == as_repeat(change)  # a retry counts once
        was_offline = offline
        streak = 0 if ok else streak + 1
        offline = (not ok) and (was_offline or streak >= offline_after)
        assert change.consecutive_failures == streak
        assert change.status == ("offline" if offline else "online")
        assert change.went_offline == (offline and not was_offline)
        assert change.came_back == (ok and was_offline)
    listed = activities.list_agents(AgentQuery(status="offline" if offline else "online"))
    assert [a.agent_id for a in listed] == [AGENT]


def as_repeat(change: agents.HealthChange) -> agents.HealthChange:
    """What recording the same check again reports: the state, with no transition."""
    return agents.HealthChange(change.agent_id, True, change.ok, change.status, change.consecutive_failures)


def test_an_unknown_agent_is_reported_not_created(factory: sessionmaker[Session]) -> None:
    activities = AgentHealthActivities(factory, AgentSettings(), "token")
    change = activities.record_agent_health(HealthObservation("10.9.9.9:1", False, "x", datetime.now(UTC)))
    assert not change.known and activities.list_agents(AgentQuery()) == []


def test_ping_answers_serving_not_serving_and_stopped(health_server: HealthServer, sqlite_url: str) -> None:
    from app.store.db import make_engine, make_session_factory

    activities = AgentHealthActivities(make_session_factory(make_engine(sqlite_url)), AgentSettings(), "s3cret-token")
    answer = activities.check_agent_health(HealthProbe(health_server.address))
    assert answer.ok and answer.detail == ""
    health_server.servicer.set("", health_pb2.HealthCheckResponse.NOT_SERVING)
    answer = activities.check_agent_health(HealthProbe(health_server.address))
    assert not answer.ok and answer.detail == "the agent reports NOT_SERVING"
    health_server.stop()
    answer = activities.check_agent_health(HealthProbe(health_server.address))
    assert not answer.ok and "UNAVAILABLE" in answer.detail and "s3cret" not in answer.detail


def test_ping_gives_up_after_five_seconds(sqlite_url: str) -> None:
    from app.store.db import make_engine, make_session_factory

    # A port that accepts connections but never speaks HTTP/2: only the deadline ends the call.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        address = f"127.0.0.1:{silent.getsockname()[1]}"
        activities = AgentHealthActivities(make_session_factory(make_engine(sqlite_url)), AgentSettings(), "")
        started = time.monotonic()
        answer = activities.check_agent_health(HealthProbe(address))
        elapsed = time.monotonic() - started
    assert not answer.ok and answer.detail == "no answer within 5s"
    assert 4.5 <= elapsed < 8
