"""The agents' settings: where the gRPC agents are, and how the reference agent runs and is reached."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from app.config.parsing import (
    ConfigError,
    Getter,
    parse_bool,
    parse_duration,
    parse_host_port,
    parse_int,
    parse_list,
)

MAX_BYTES = 50 * 1024 * 1024  # AGENT_MAX_OUTPUT_BYTES' default


@dataclass(frozen=True)
class AgentSettings:
    """Where the gRPC agents are and how the reference agent runs."""

    addresses: tuple[str, ...] = ("127.0.0.1:50051",)
    token: str = field(default="", repr=False)
    listen: str = "127.0.0.1:50051"
    profile: str = "demo"
    heartbeat_timeout: timedelta = timedelta(minutes=5)
    start_to_close: timedelta = timedelta(hours=2)
    # The reference agent (`orchestrator agent`): its name, the repository it works on, where the issue
    # branches are pushed (the "PR"), and where the per-issue worktrees and job journals live.
    agent_id: str = "local-agent"
    repo: Path = Path("var/agent/demo-repo")
    remote: str = "var/agent/demo-remote.git"
    workspace_dir: Path = Path("var/agent/workspaces")
    git_author: str = "Orchestrator Agent <agent@orchestrator.invalid>"
    # TLS: the agent serves with cert + key; callers verify it against `tls_ca` (or the system roots if `tls`).
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_ca: Path | None = None
    tls: bool = False
    # Credentials handed to agents inside each request (never through workflow history).
    git_username: str = ""
    git_token: str = field(default="", repr=False)
    coder_api_key: str = field(default="", repr=False)
    coder_key_env: str = "ANTHROPIC_API_KEY"
    # The only variables of the agent's own environment its commands see (never JIRA_*, TEMPORAL_*, ...).
    child_env: Mapping[str, str] = field(default_factory=dict, repr=False)
    # What one job's command may print before the rest is dropped (memory, journal, job_logs and the database).
    max_output_lines: int = 100_000
    max_output_bytes: int = MAX_BYTES

    @property
    def secrets(self) -> tuple[str, ...]:
        """Every configured secret value, for masking."""
        return tuple(v for v in (self.token, self.git_token, self.coder_api_key) if v)


AGENT_ENV_PASSTHROUGH = "PATH,HOME,LANG,LC_ALL,LC_CTYPE,TZ,TMPDIR,USER,LOGNAME,SHELL,TERM"


def _existing_file(name: str, raw: str) -> Path:
    path = Path(raw.strip()).expanduser()
    if not path.is_file():
        raise ConfigError(f"{name}: no such file: {raw!r}")
    return path


def _git_remote(raw: str) -> str:
    # A URL (https://, ssh://, git@host:path) stays as it is; a local path becomes absolute.
    if re.match(r"^[a-z][a-z0-9+.-]*://[^/@]*:[^/@]*@", raw, re.IGNORECASE):
        # A password in the URL would be in every git error, log line and PR link, unmasked.
        raise ConfigError(
            "AGENT_REMOTE: the URL carries a password or token; give the plain URL and put the credential in "
            "AGENT_GIT_USERNAME / AGENT_GIT_TOKEN (handed to git through askpass, never logged)"
        )
    if "://" in raw or re.match(r"^[^/]+@[^/:]+:", raw):
        return raw
    return str(Path(raw).expanduser().resolve())


def agent_settings(
    env: Mapping[str, str], get: Getter, text: Callable[[str, str], str], var_dir: Path
) -> AgentSettings:
    """The agent settings from the environment."""
    tls_cert = get("AGENT_TLS_CERT", _existing_file, None)
    tls_key = get("AGENT_TLS_KEY", _existing_file, None)
    if (tls_cert is None) != (tls_key is None):
        raise ConfigError("AGENT_TLS_CERT and AGENT_TLS_KEY: set both (the agent's certificate and key) or neither")
    author = text("AGENT_GIT_AUTHOR", "Orchestrator Agent <agent@orchestrator.invalid>")
    if not re.match(r"^[^<>]+ <[^<>\s]+>$", author):
        raise ConfigError(f"AGENT_GIT_AUTHOR: expected 'Name <email>', got {author!r}")
    key_env = text("AGENT_CODER_KEY_ENV", "ANTHROPIC_API_KEY")
    if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", key_env):
        raise ConfigError(f"AGENT_CODER_KEY_ENV: expected an environment variable name, got {key_env!r}")
    passthrough = parse_list(text("AGENT_ENV_PASSTHROUGH", AGENT_ENV_PASSTHROUGH))
    if any(name.startswith("FORGE_") for name in passthrough):  # the forge token is the worker's alone
        raise ConfigError("AGENT_ENV_PASSTHROUGH: agent commands may not see FORGE_* variables")
    return AgentSettings(
        addresses=get(
            "AGENT_ADDRESSES",
            lambda n, raw: tuple(parse_host_port(n, a) for a in parse_list(raw)),
            ("127.0.0.1:50051",),
        ),
        token=text("AGENT_TOKEN", ""),
        listen=get("AGENT_LISTEN", parse_host_port, "127.0.0.1:50051"),
        profile=text("AGENT_PROFILE", "demo"),
        heartbeat_timeout=get("AGENT_HEARTBEAT_TIMEOUT", parse_duration, timedelta(minutes=5)),
        start_to_close=get("AGENT_START_TO_CLOSE", parse_duration, timedelta(hours=2)),
        agent_id=text("AGENT_ID", "local-agent"),
        repo=Path(text("AGENT_REPO", str(var_dir / "agent" / "demo-repo"))).expanduser().resolve(),
        remote=_git_remote(text("AGENT_REMOTE", str(var_dir / "agent" / "demo-remote.git"))),
        workspace_dir=Path(text("AGENT_WORKSPACE_DIR", str(var_dir / "agent" / "workspaces"))).expanduser().resolve(),
        git_author=author,
        tls_cert=tls_cert,
        tls_key=tls_key,
        tls_ca=get("AGENT_TLS_CA", _existing_file, None),
        tls=get("AGENT_TLS", parse_bool, False),
        git_username=text("AGENT_GIT_USERNAME", ""),
        git_token=text("AGENT_GIT_TOKEN", ""),
        coder_api_key=text("AGENT_CODER_API_KEY", ""),
        coder_key_env=key_env,
        child_env={name: env[name] for name in passthrough if env.get(name)},
        max_output_lines=get("AGENT_MAX_OUTPUT_LINES", lambda n, raw: parse_int(n, raw, minimum=1), 100_000),
        max_output_bytes=get("AGENT_MAX_OUTPUT_BYTES", lambda n, raw: parse_int(n, raw, minimum=1024), MAX_BYTES),
    )
