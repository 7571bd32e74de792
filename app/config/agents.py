"""The agents' settings: where the gRPC agents are, and how the reference agent runs and is reached."""

from __future__ import annotations

import ipaddress
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
    # Mutual TLS: the agent accepts only callers whose certificate `tls_client_ca` signed; callers present theirs.
    tls_client_ca: Path | None = None
    tls_client_cert: Path | None = None
    tls_client_key: Path | None = None
    # Plaintext gRPC to or from a host other than this one, token in clear text: refused unless this is set.
    allow_plaintext: bool = False
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
    # On SIGTERM the agent takes no new jobs and lets running ones finish this long before it stops them.
    shutdown_grace: timedelta = timedelta(minutes=10)

    @property
    def calls_with_tls(self) -> bool:
        """Whether callers (the worker) reach agents over TLS."""
        return self.tls or self.tls_ca is not None

    @property
    def serves_tls(self) -> bool:
        """Whether the reference agent serves TLS."""
        return self.tls_cert is not None and self.tls_key is not None

    @property
    def secrets(self) -> tuple[str, ...]:
        """Every configured secret value, for masking."""
        return tuple(v for v in (self.token, self.git_token, self.coder_api_key) if v)


def is_loopback(address: str) -> bool:
    """Whether a host:port address stays on this machine (localhost, 127.0.0.0/8, ::1)."""
    host = address.rpartition(":")[0].strip("[]")
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name other than localhost: somewhere on the network


def plaintext_calls(agents: AgentSettings) -> str | None:
    """What of AGENT_ADDRESSES the worker would call in clear text over the network, or None."""
    remote = [address for address in agents.addresses if not is_loopback(address)]
    if not remote or agents.calls_with_tls:
        return None
    return f"AGENT_ADDRESSES {', '.join(remote)} without TLS (set AGENT_TLS=true or AGENT_TLS_CA)"


def plaintext_listen(agents: AgentSettings) -> str | None:
    """Whether the agent would serve in clear text on the network (AGENT_LISTEN), or None."""
    if is_loopback(agents.listen) or agents.serves_tls:
        return None
    return f"AGENT_LISTEN {agents.listen} without TLS (set AGENT_TLS_CERT and AGENT_TLS_KEY)"


def refuse_plaintext(agents: AgentSettings, problem: str | None) -> None:
    """ConfigError for a plaintext connection over the network (plaintext_calls/plaintext_listen), unless
    AGENT_ALLOW_PLAINTEXT=true."""
    if problem is not None and not agents.allow_plaintext:
        raise ConfigError(
            f"{problem}: the agent token and the jobs' credentials would cross the network in clear text; "
            "configure TLS, or set AGENT_ALLOW_PLAINTEXT=true to accept that (a trusted private network)"
        )


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
    client_cert = get("AGENT_TLS_CLIENT_CERT", _existing_file, None)
    client_key = get("AGENT_TLS_CLIENT_KEY", _existing_file, None)
    if (client_cert is None) != (client_key is None):
        raise ConfigError(
            "AGENT_TLS_CLIENT_CERT and AGENT_TLS_CLIENT_KEY: set both (the caller's certificate) or neither"
        )
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
        tls_client_ca=get("AGENT_TLS_CLIENT_CA", _existing_file, None),
        tls_client_cert=client_cert,
        tls_client_key=client_key,
        allow_plaintext=get("AGENT_ALLOW_PLAINTEXT", parse_bool, False),
        git_username=text("AGENT_GIT_USERNAME", ""),
        git_token=text("AGENT_GIT_TOKEN", ""),
        coder_api_key=text("AGENT_CODER_API_KEY", ""),
        coder_key_env=key_env,
        child_env={name: env[name] for name in passthrough if env.get(name)},
        max_output_lines=get("AGENT_MAX_OUTPUT_LINES", lambda n, raw: parse_int(n, raw, minimum=1), 100_000),
        max_output_bytes=get("AGENT_MAX_OUTPUT_BYTES", lambda n, raw: parse_int(n, raw, minimum=1024), MAX_BYTES),
        shutdown_grace=get("AGENT_SHUTDOWN_GRACE", parse_duration, timedelta(minutes=10)),
    )
