"""The caller's side of the agent protocol: a channel (TLS, keepalive) and the token on every call."""

from __future__ import annotations

from collections.abc import Iterator
from types import TracebackType

import grpc

from app.agent_client.auth import call_metadata
from app.agent_client.proto import agent_pb2 as pb
from app.agent_client.proto import agent_pb2_grpc as pb_grpc
from app.config import AgentSettings

# Keepalive pings find a dead agent (or a cut connection) while a job is quiet, so a stream does not hang
# until the activity's heartbeat timeout; the agent server allows pings this often.
CHANNEL_OPTIONS = (
    ("grpc.keepalive_time_ms", 20_000),
    ("grpc.keepalive_timeout_ms", 10_000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.max_pings_without_data", 0),
    ("grpc.max_receive_message_length", 16 * 1024 * 1024),
)


def open_channel(address: str, agents: AgentSettings) -> grpc.Channel:
    """A channel to one agent: TLS when AGENT_TLS_CA or AGENT_TLS is set (with our certificate too when
    AGENT_TLS_CLIENT_CERT/KEY are, for an agent that requires mutual TLS); plaintext otherwise."""
    if agents.calls_with_tls:
        root = agents.tls_ca.read_bytes() if agents.tls_ca is not None else None
        key = agents.tls_client_key.read_bytes() if agents.tls_client_key is not None else None
        chain = agents.tls_client_cert.read_bytes() if agents.tls_client_cert is not None else None
        credentials = grpc.ssl_channel_credentials(root_certificates=root, private_key=key, certificate_chain=chain)
        return grpc.secure_channel(address, credentials, CHANNEL_OPTIONS)
    return grpc.insecure_channel(address, CHANNEL_OPTIONS)


class AgentClient:
    """Calls one agent with the shared token; use as a context manager to close the channel."""

    def __init__(self, address: str, agents: AgentSettings, token: str) -> None:
        self.address = address
        self._channel = open_channel(address, agents)
        self._stub = pb_grpc.AgentServiceStub(self._channel)  # type: ignore[no-untyped-call]
        self._metadata = call_metadata(token)

    def execute(self, request: pb.ExecuteRequest, timeout: float | None = None) -> Iterator[pb.ExecuteEvent]:
        """Start (or re-attach to) a job; the returned call iterates its events and has `.cancel()`."""
        call: Iterator[pb.ExecuteEvent] = self._stub.Execute(request, timeout=timeout, metadata=self._metadata)
        return call

    def cancel(self, job_id: str, reason: str, timeout: float = 30.0) -> pb.CancelResponse:
        """Stop a job; returns once the agent has killed its processes."""
        response: pb.CancelResponse = self._stub.Cancel(
            pb.CancelRequest(job_id=job_id, reason=reason), timeout=timeout, metadata=self._metadata
        )
        return response

    def ping(self, nonce: str, timeout: float = 5.0) -> pb.PingResponse:
        """Ask the agent who it is and what it is running."""
        response: pb.PingResponse = self._stub.Ping(
            pb.PingRequest(nonce=nonce), timeout=timeout, metadata=self._metadata
        )
        return response

    def close(self) -> None:
        """Close the channel (any open stream ends with CANCELLED)."""
        self._channel.close()

    def __enter__(self) -> AgentClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
