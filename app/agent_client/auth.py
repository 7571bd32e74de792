"""The agents' shared token: where it comes from, the metadata callers send, and the server interceptor."""

from __future__ import annotations

import contextlib
import hmac
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc

from app.agent_client.protocol import HEALTH_SERVICE_PREFIX, TOKEN_METADATA_KEY
from app.config import Settings

TOKEN_FILE = "agent.token"  # noqa: S105 - a file name, not a secret


def agent_token(settings: Settings) -> str:
    """AGENT_TOKEN, or else a random token kept in var/agent.token (so a local worker and agent share one)."""
    if settings.agents.token:
        return settings.agents.token
    path = settings.var_dir / TOKEN_FILE
    if not path.is_file():
        _create_token_file(path)
    token = path.read_text().strip()
    if not token:
        raise RuntimeError(f"{path} is empty; delete it to get a new agent token, or set AGENT_TOKEN")
    return token


def _create_token_file(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written whole under a private name, then linked into place (link fails if the file exists): when the worker
    # and the agent start together, one of them creates it and neither can ever read it half-written.
    draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(32) + "\n")
        with contextlib.suppress(FileExistsError):  # another process's token is already in place: use that
            os.link(draft, path)
    finally:
        draft.unlink(missing_ok=True)


def call_metadata(token: str) -> tuple[tuple[str, str], ...]:
    """The metadata every protocol call carries."""
    return ((TOKEN_METADATA_KEY, f"Bearer {token}"),)


class TokenInterceptor(grpc.ServerInterceptor):  # type: ignore[misc]
    """Refuses (UNAUTHENTICATED) every call without the shared token; the standard health service stays open."""

    def __init__(self, token: str) -> None:
        self._expected = f"Bearer {token}".encode()

    def intercept_service(self, continuation: Callable[[Any], Any], handler_call_details: Any) -> Any:
        """Pass the call on when its token matches, else answer it with UNAUTHENTICATED."""
        method: str = handler_call_details.method
        if method.startswith(HEALTH_SERVICE_PREFIX):
            return continuation(handler_call_details)
        given = dict(handler_call_details.invocation_metadata or ()).get(TOKEN_METADATA_KEY, "")
        if hmac.compare_digest(str(given).encode(), self._expected):
            return continuation(handler_call_details)
        return _refusal(continuation(handler_call_details))


def _refusal(handler: Any) -> Any:
    def refuse(_request: Any, context: grpc.ServicerContext) -> None:
        context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing or wrong agent token")

    if handler is None:  # an unknown method: let gRPC answer UNIMPLEMENTED only to callers with the token
        return grpc.unary_unary_rpc_method_handler(refuse)
    if handler.request_streaming and handler.response_streaming:
        return grpc.stream_stream_rpc_method_handler(refuse)
    if handler.request_streaming:
        return grpc.stream_unary_rpc_method_handler(refuse)
    if handler.response_streaming:
        return grpc.unary_stream_rpc_method_handler(refuse)
    return grpc.unary_unary_rpc_method_handler(refuse)
