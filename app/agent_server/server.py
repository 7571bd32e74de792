"""The reference agent process (`orchestrator agent`): sets up the repository, serves the protocol, stops cleanly."""

from __future__ import annotations

import fcntl
import logging
import signal
import threading
from concurrent import futures
from pathlib import Path
from typing import IO

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from app.agent_client.auth import TOKEN_FILE, TokenInterceptor, agent_token
from app.agent_client.proto import agent_pb2_grpc as pb_grpc
from app.agent_server import confinement
from app.agent_server.askpass import ensure_askpass
from app.agent_server.demo_repo import clone_local_remote, ensure_bare_remote, ensure_repository
from app.agent_server.execution import AgentEnvironment
from app.agent_server.profiles import load_profile
from app.agent_server.registry import JobRegistry
from app.agent_server.service import AgentService
from app.agent_server.workspace import Workspaces, git, git_config_env
from app.config import Settings
from app.config.agents import plaintext_listen, refuse_plaintext

log = logging.getLogger(__name__)
SERVICE_NAME = "orchestrator.agent.v1.AgentService"
# Callers ping every 20 s to find dead connections; allow that (gRPC's default answers with GOAWAY).
SERVER_OPTIONS = (
    ("grpc.so_reuseport", 0),  # a second agent on the same port must fail, not share it (and the journals)
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.min_ping_interval_without_data_ms", 10_000),
    ("grpc.http2.max_ping_strikes", 0),
)


def git_env(settings: Settings) -> dict[str, str]:
    """The environment of every git command and job command: passthrough variables plus the agent's identity."""
    name, _, email = settings.agents.git_author.partition(" <")
    return {
        **settings.agents.child_env,
        "GIT_AUTHOR_NAME": name,
        "GIT_AUTHOR_EMAIL": email.rstrip(">"),
        "GIT_COMMITTER_NAME": name,
        "GIT_COMMITTER_EMAIL": email.rstrip(">"),
        **git_config_env(),  # no hooks, no signing
    }


class AgentServer:
    """One agent: the repository and workspaces, the job registry, and the gRPC server (token, optional TLS)."""

    def __init__(self, settings: Settings) -> None:
        agents = settings.agents
        refuse_plaintext(agents, plaintext_listen(agents))
        self.settings = settings
        self._workspace_lock = _lock_workspaces(agents.workspace_dir)
        profile = load_profile(agents.profile)
        env = git_env(settings)
        _ensure_repositories(settings, env)
        token = agent_token(settings)
        environment = AgentEnvironment(
            profile=profile,
            workspaces=Workspaces(agents.repo, agents.workspace_dir, env),
            remote=agents.remote,
            base_env=env,
            askpass=ensure_askpass(agents.workspace_dir),
            confine=confinement.available(env),
            secret_files=_secret_files(settings),
            max_output=(agents.max_output_lines, agents.max_output_bytes),
        )
        self.registry = JobRegistry(agents.workspace_dir / ".jobs", environment, own_secrets=(token,))
        self.health = health.HealthServicer()
        self._server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=32, thread_name_prefix="agent-rpc"),
            interceptors=[TokenInterceptor(token)],
            options=SERVER_OPTIONS,
        )
        pb_grpc.add_AgentServiceServicer_to_server(  # type: ignore[no-untyped-call]
            AgentService(self.registry, agents.agent_id, profile.name), self._server
        )
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self._server)
        self.port = self._bind(agents.listen)
        # Only now that this process owns the port and the workspaces may it kill what a previous one left.
        interrupted = self.registry.recover()
        if interrupted:
            log.warning("agent.interrupted-jobs count=%d (they run again when re-attached)", len(interrupted))

    def _bind(self, address: str) -> int:
        agents = self.settings.agents
        try:
            if agents.tls_cert is not None and agents.tls_key is not None:
                pair = (agents.tls_key.read_bytes(), agents.tls_cert.read_bytes())
                # AGENT_TLS_CLIENT_CA: mutual TLS, only callers with a certificate it signed get through.
                clients = agents.tls_client_ca.read_bytes() if agents.tls_client_ca is not None else None
                tls = grpc.ssl_server_credentials([pair], root_certificates=clients, require_client_auth=bool(clients))
                port = int(self._server.add_secure_port(address, tls))
            else:
                port = int(self._server.add_insecure_port(address))
        except RuntimeError:  # grpc's way of saying the address is taken or unusable
            port = 0
        if not port:
            self._release()
            raise OSError(f"AGENT_LISTEN: cannot listen on {address} (is another agent running there?)")
        return port

    def start(self) -> None:
        """Start serving; health reports SERVING."""
        self._server.start()
        for name in ("", SERVICE_NAME):
            self.health.set(name, health_pb2.HealthCheckResponse.SERVING)
        log.info("agent.started listen=%s port=%d", self.settings.agents.listen, self.port)

    def shutdown(self, hurry: threading.Event) -> None:
        """SIGTERM: take no new jobs (callers are answered UNAVAILABLE and go elsewhere), let the running ones finish
        within AGENT_SHUTDOWN_GRACE (or until `hurry` is set: a second signal), then stop what is left."""
        grace = self.settings.agents.shutdown_grace.total_seconds()
        self.health.enter_graceful_shutdown()
        log.info("agent.draining running=%d grace=%ss", len(self.registry.running()), grace)
        left = self.registry.drain(grace, hurry)
        if left:
            log.warning("agent.drain-ended-early interrupting=%d (they run again when re-attached)", len(left))
        self.stop()

    def stop(self, grace: float = 5.0) -> None:
        """Stop: health NOT_SERVING, running jobs interrupted (their processes killed), then the server."""
        self.health.enter_graceful_shutdown()
        self.registry.interrupt_all()
        self._server.stop(grace).wait(grace + 1)
        self._release()
        log.info("agent.stopped")

    def _release(self) -> None:
        self._workspace_lock.close()


def _lock_workspaces(root: Path) -> IO[str]:
    # Two agents on one workspace folder would share worktrees and journals, and the second would "recover"
    # (kill) the first one's running jobs: the lock makes the second refuse to start instead.
    root.mkdir(parents=True, exist_ok=True)
    handle = (root / ".agent.lock").open("w")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise OSError(f"another agent is using {root} (AGENT_WORKSPACE_DIR)") from None
    return handle


def _ensure_repositories(settings: Settings, env: dict[str, str]) -> None:
    agents = settings.agents
    if clone_local_remote(agents.repo, agents.remote, env):
        log.info("agent.repository-cloned path=%s remote=%s", agents.repo, agents.remote)
    elif ensure_repository(agents.repo, env):
        log.info("agent.demo-repository-created path=%s", agents.repo)
    if ensure_bare_remote(agents.remote, env):
        git(["push", "--quiet", agents.remote, "HEAD"], agents.repo, env)
        log.info("agent.bare-remote-created path=%s", agents.remote)


def _secret_files(settings: Settings) -> tuple[Path, ...]:
    """The agent's own secrets on disk, hidden from confined commands: the .env it may have read its settings
    from (on a shared host it holds every service's secrets), the agent token file and the TLS keys."""
    agents = settings.agents
    paths = (Path(".env").resolve(), settings.var_dir / TOKEN_FILE, agents.tls_key, agents.tls_client_key)
    return tuple(path for path in paths if path is not None and path.is_file())


SIGNAL_POLL = 0.5  # seconds between the main thread's looks for a signal


def serve(settings: Settings) -> None:
    """Run the agent until SIGTERM or SIGINT, then drain; a second signal stops the running jobs at once."""
    server = AgentServer(settings)
    stop, hurry = threading.Event(), threading.Event()

    def on_signal(*_: object) -> None:
        (hurry if stop.is_set() else stop).set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_signal)
    server.start()
    # Waiting with a timeout: the kernel may deliver the signal to one of gRPC's threads, and then only a main
    # thread that wakes up now and again runs the Python handler (an untimed wait would sleep through SIGTERM).
    while not stop.wait(SIGNAL_POLL):
        pass
    server.shutdown(hurry)
