"""Transport: TLS between caller and agent, and the ping activity's answers."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import grpc
import pytest

from activities.agent import AgentActivities
from activities.agent_types import CredentialsRequest
from app.agent_client import credentials as creds
from app.agent_client.client import AgentClient
from app.agent_server.server import AgentServer
from app.config import ConfigError
from app.config.agents import plaintext_calls, refuse_plaintext
from app.services.checks import check_agent_transport
from app.store.db import make_engine, make_session_factory
from app.worker.main import main as worker_main
from tests.agent.conftest import TOKEN, AgentWorld, world_settings
from tests.conftest import free_port


def self_signed(tmp_path: Path) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    cert, key = tmp_path / "agent.crt", tmp_path / "agent.key"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key


def test_agent_serves_tls_and_callers_verify_it(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    port = free_port()
    world = world_settings(tmp_path, port, AGENT_TLS_CERT=str(cert), AGENT_TLS_KEY=str(key), AGENT_TLS_CA=str(cert))
    server = AgentServer(world.settings)
    server.start()
    try:
        with world.client() as client:
            assert client.ping("tls").nonce == "tls"
        plain = world_settings(tmp_path / "plain", port)
        with AgentClient(world.address, plain.settings.agents, TOKEN) as client, pytest.raises(grpc.RpcError) as err:
            client.ping("plain", timeout=3)
        assert err.value.code() == grpc.StatusCode.UNAVAILABLE
    finally:
        server.stop(grace=1)


def test_ping_answers_with_the_agent_or_says_why_not(agent_world: AgentWorld) -> None:
    agents = agent_world.settings.agents
    with AgentClient(agent_world.address, agents, TOKEN) as client:
        answer = client.ping("n-1", timeout=5)
    assert answer.nonce == "n-1" and answer.agent_id == "local-agent" and answer.profile == "test"
    assert list(answer.running_jobs) == []
    with AgentClient(f"127.0.0.1:{free_port()}", agents, TOKEN) as client, pytest.raises(grpc.RpcError) as down:
        client.ping("n-2", timeout=5)
    assert down.value.code() == grpc.StatusCode.UNAVAILABLE
    with AgentClient(agent_world.address, agents, "not-the-token") as client, pytest.raises(grpc.RpcError) as refused:
        client.ping("n-3", timeout=5)
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert refused.value.details() == "missing or wrong agent token"


def test_credential_activities_hand_out_references_only(tmp_path: Path, sqlite_url: str) -> None:
    factory = make_session_factory(make_engine(sqlite_url))
    request = CredentialsRequest("job-1", "DEMO-1")
    bare = AgentActivities(world_settings(tmp_path / "a", free_port()).settings.agents, TOKEN, factory)
    assert bare.get_credentials(request).refs == []
    configured = world_settings(tmp_path / "b", free_port(), AGENT_GIT_TOKEN="git-secret", AGENT_CODER_API_KEY="key-1")
    activities = AgentActivities(configured.settings.agents, TOKEN, factory)
    assert activities.get_credentials(request).refs == ["git:default", "agent:default"]
    assert creds.git_refs(configured.settings.agents) == ["git:default"]
    assert creds.agent_refs(configured.settings.agents) == ["agent:default"]


def test_mutual_tls_serves_only_callers_with_a_certificate_the_agent_trusts(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    (tmp_path / "caller").mkdir()
    caller_cert, caller_key = self_signed(tmp_path / "caller")
    port = free_port()
    tls = {"AGENT_TLS_CERT": str(cert), "AGENT_TLS_KEY": str(key), "AGENT_TLS_CA": str(cert)}
    world = world_settings(tmp_path, port, **tls, AGENT_TLS_CLIENT_CA=str(caller_cert))
    server = AgentServer(world.settings)
    server.start()
    try:
        mutual = world_settings(
            tmp_path / "mutual",
            port,
            **tls,
            AGENT_TLS_CLIENT_CERT=str(caller_cert),
            AGENT_TLS_CLIENT_KEY=str(caller_key),
        )
        with AgentClient(world.address, mutual.settings.agents, TOKEN) as client:
            assert client.ping("mtls").nonce == "mtls"
        anonymous = world_settings(tmp_path / "anonymous", port, **tls)
        with (
            AgentClient(world.address, anonymous.settings.agents, TOKEN) as client,
            pytest.raises(grpc.RpcError) as err,
        ):
            client.ping("no certificate", timeout=3)
        assert err.value.code() == grpc.StatusCode.UNAVAILABLE
    finally:
        server.stop(grace=1)


PLAINTEXT = "the agent token and the jobs' credentials would cross the network in clear text"


def test_an_agent_listening_beyond_loopback_without_tls_refuses_to_start_unless_allowed(tmp_path: Path) -> None:
    port = free_port()
    refused = world_settings(tmp_path / "refused", port, AGENT_LISTEN=f"0.0.0.0:{port}")
    with pytest.raises(ConfigError, match=f"AGENT_LISTEN 0.0.0.0:{port} without TLS .*: {PLAINTEXT}"):
        AgentServer(refused.settings)
    check = check_agent_transport(refused.settings.agents)
    assert not check.ok and "refuse to start" in check.detail
    allowed = world_settings(tmp_path / "allowed", port, AGENT_LISTEN=f"0.0.0.0:{port}", AGENT_ALLOW_PLAINTEXT="true")
    server = AgentServer(allowed.settings)
    server.start()
    try:
        with allowed.client() as client:
            assert client.ping("allowed").nonce == "allowed"
    finally:
        server.stop(grace=1)
    assert check_agent_transport(allowed.settings.agents).detail.startswith("PLAINTEXT over the network")


def test_a_worker_calling_agents_beyond_loopback_without_tls_refuses_to_start_unless_allowed(tmp_path: Path) -> None:
    remote = "agent-1.internal:50051,10.0.0.7:50051"
    refused = world_settings(tmp_path, free_port(), AGENT_ADDRESSES=f"127.0.0.1:50051,localhost:1,[::1]:2,{remote}")
    with pytest.raises(
        ConfigError, match=re.escape("AGENT_ADDRESSES agent-1.internal:50051, 10.0.0.7:50051 without TLS")
    ):
        worker_main(refused.settings)  # refused before it connects to anything
    assert not check_agent_transport(refused.settings.agents).ok
    for env in ({"AGENT_ALLOW_PLAINTEXT": "true"}, {"AGENT_TLS": "true"}):
        agents = world_settings(tmp_path, free_port(), AGENT_ADDRESSES=remote, **env).settings.agents
        refuse_plaintext(agents, plaintext_calls(agents))
        assert check_agent_transport(agents).ok
    local = world_settings(tmp_path, free_port(), AGENT_ADDRESSES="127.0.0.1:50051,localhost:50052").settings.agents
    assert plaintext_calls(local) is None and check_agent_transport(local).detail == "loopback only, plaintext"
