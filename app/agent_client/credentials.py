"""Credentials for agent jobs: references in workflow history, values only inside the gRPC request, masked output.

Workflows see references such as `git:default` and `agent:default` (CredentialRefs). The dispatch activity
resolves them from configuration into the request's `Credentials` message right before the call, so a secret
never enters workflow history (not even encrypted, as a payload codec would leave it) and rotating one takes
effect on the next attempt. The agent keeps the values in memory for the job, hands each only to the steps
that need it (app/agent_server/step_access.py), as environment variables, and masks them in everything it
streams back.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from app.agent_client.proto import agent_pb2 as pb
from app.config import AgentSettings

GIT_REF = "git:default"
AGENT_REF = "agent:default"
MASK = "***"
MIN_SECRET = 4  # shorter values would mask ordinary text and protect nothing


class UnknownCredential(LookupError):
    """A reference names no configured credential."""


def git_refs(agents: AgentSettings) -> list[str]:
    """The git credential references available (none when no git token is configured)."""
    return [GIT_REF] if agents.git_token else []


def agent_refs(agents: AgentSettings) -> list[str]:
    """The coding-tool credential references available (none when no key is configured)."""
    return [AGENT_REF] if agents.coder_api_key else []


def resolve(refs: Iterable[str], agents: AgentSettings) -> pb.Credentials:
    """The request's credentials for these references; an unknown or unconfigured one raises UnknownCredential."""
    credentials = pb.Credentials()
    for ref in refs:
        if ref == GIT_REF and agents.git_token:
            credentials.git_username = agents.git_username
            credentials.git_token = agents.git_token
        elif ref == AGENT_REF and agents.coder_api_key:
            credentials.agent_env[agents.coder_key_env] = agents.coder_api_key
        else:
            raise UnknownCredential(f"no credential is configured for reference {ref!r}")
    return credentials


def secret_values(credentials: pb.Credentials) -> tuple[str, ...]:
    """The secret values of a request, for masking."""
    return tuple(v for v in (credentials.git_token, *credentials.agent_env.values()) if v)


def mask(text: str, secrets: Iterable[str]) -> str:
    """`text` with every secret value replaced by ***."""
    for secret in sorted(set(secrets), key=len, reverse=True):
        if len(secret) >= MIN_SECRET and secret in text:
            text = text.replace(secret, MASK)
    return text


def mask_map(values: Mapping[str, str], secrets: Iterable[str]) -> dict[str, str]:
    """A copy of `values` with secret values masked."""
    known = tuple(secrets)
    return {key: mask(value, known) for key, value in values.items()}


def coder_env(credentials: pb.Credentials) -> dict[str, str]:
    """Environment variables that hand the coding tool its key (the AI phases only)."""
    return dict(credentials.agent_env)


def git_credential_env(credentials: pb.Credentials, askpass: str) -> dict[str, str]:
    """Environment variables that hand git the token through askpass (the git calls that push or fetch only)."""
    if not credentials.git_token:
        return {}
    return {
        "GIT_ASKPASS": askpass,
        "GIT_TERMINAL_PROMPT": "0",
        "AGENT_GIT_USERNAME": credentials.git_username or "x-access-token",
        "AGENT_GIT_TOKEN": credentials.git_token,
    }
