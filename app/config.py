"""Every setting of the service, read from the environment (and `.env`) in this one place."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

from dotenv import dotenv_values
from temporalio.envconfig import ClientConfig

T = TypeVar("T")

PHASES = ("EXPLORE", "PLAN", "CODE", "TEST", "FIX", "DOCUMENT")

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}
# The sandbox Jira's bot account (app/sandbox); used only when JIRA_BASE_URL is unset.
SANDBOX_BOT_EMAIL = "orchestrator-bot@sandbox.invalid"
SANDBOX_BOT_TOKEN = "sandbox-bot-token"  # noqa: S105 - a fixed credential of the local sandbox, not a secret
# The sandbox's `reviewer` belongs to this group; it is the default approver list when JIRA_BASE_URL is unset.
SANDBOX_APPROVER_GROUP = "orchestrator-approvers"

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


def parse_duration(name: str, raw: str) -> timedelta:
    """Parse `90`, `30s`, `5m`, `2h` or `7d` into a timedelta."""
    match = _DURATION.match(raw)
    if not match:
        raise ConfigError(f"{name}: expected a duration such as 30s, 5m, 2h or 7d, got {raw!r}")
    return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])


def parse_bool(name: str, raw: str) -> bool:
    """Parse the usual spellings of a boolean."""
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(f"{name}: expected true or false, got {raw!r}")


def parse_list(raw: str) -> tuple[str, ...]:
    """Split a comma-separated list, dropping blanks."""
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def parse_host_port(name: str, raw: str) -> str:
    """Check a `host:port` address."""
    host, sep, port = raw.strip().rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"{name}: expected host:port, got {raw!r}")
    return raw.strip()


def parse_int(name: str, raw: str, minimum: int = 0) -> int:
    """Parse a whole number no smaller than `minimum`."""
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}: expected a whole number, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name}: must be at least {minimum}, got {value}")
    return value


def parse_url(name: str, raw: str) -> str:
    """Check an http(s) URL and drop a trailing slash."""
    value = raw.strip().rstrip("/")
    if not re.match(r"^https?://[^\s/]+", value):
        raise ConfigError(f"{name}: expected an http(s) URL, got {raw!r}")
    return value


def parse_account_id(name: str, raw: str) -> str:
    """Check an Atlassian account id such as `5f2a7b9c0d1e2f3a4b5c6d7e` or `712020:3f6a9c1e-...`."""
    value = raw.strip()
    if not re.match(r"^[A-Za-z0-9:_-]{1,128}$", value):
        raise ConfigError(f"{name}: expected an Atlassian account id (letters, digits, ':', '-'), got {raw!r}")
    return value


def parse_phases(name: str, raw: str) -> tuple[str, ...]:
    """Parse a list of phase names such as `EXPLORE,PLAN`."""
    phases = tuple(p.upper() for p in parse_list(raw))
    unknown = [p for p in phases if p not in PHASES]
    if unknown:
        raise ConfigError(f"{name}: unknown phase(s) {', '.join(unknown)}; expected some of {', '.join(PHASES)}")
    return phases


@dataclass(frozen=True)
class TemporalSettings:
    """Where Temporal is and how to reach it (local dev server, a cluster or Temporal Cloud)."""

    address: str = "localhost:7233"
    namespace: str = "default"
    task_queue: str = "jira-orchestration"
    enabled: bool = True
    tls: bool = False
    ui_url: str = "http://localhost:8233"
    api_key: str | None = field(default=None, repr=False)
    connect_config: Mapping[str, Any] = field(default_factory=dict, repr=False)

    def connect_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for `temporalio.client.Client.connect`."""
        kwargs = dict(self.connect_config)
        kwargs["target_host"] = self.address
        kwargs["namespace"] = self.namespace
        if self.api_key:
            kwargs["api_key"] = self.api_key
            kwargs.setdefault("tls", True)
        elif self.tls:
            kwargs.setdefault("tls", True)
        return kwargs

    def workflow_url(self, workflow_id: str, run_id: str | None = None) -> str:
        """A link to a workflow in the Temporal UI."""
        base = f"{self.ui_url}/namespaces/{self.namespace}/workflows/{workflow_id}"
        return f"{base}/{run_id}" if run_id else base


@dataclass(frozen=True)
class JiraSettings:
    """The Jira Cloud site and the bot's credentials; no base URL means the in-repo sandbox Jira."""

    base_url: str | None = None
    email: str = ""
    api_token: str = field(default="", repr=False)
    webhook_secret: str = field(default="", repr=False)
    timeout: timedelta = timedelta(seconds=30)
    retry_budget: timedelta = timedelta(minutes=2)
    sandbox_port: int = 8090
    # The bot's own account id, so the web process can ignore its own echoes without asking Jira in a request;
    # unset = learnt once from /myself in the background (webhooks/identity.py).
    bot_account_id: str | None = None
    # Where the sandbox Jira sends its webhooks; None = this service's own endpoint on WEB_PORT.
    sandbox_webhook_url: str | None = None

    @property
    def uses_sandbox(self) -> bool:
        """True when no real Jira site is configured."""
        return self.base_url is None

    @property
    def url(self) -> str:
        """The site the bot talks to: the configured one, or the local sandbox Jira."""
        return self.base_url or f"http://127.0.0.1:{self.sandbox_port}"

    @property
    def credentials(self) -> tuple[str, str]:
        """(email, API token) for basic auth; the sandbox bot's own when no site is configured."""
        if self.uses_sandbox and not self.email:
            return SANDBOX_BOT_EMAIL, SANDBOX_BOT_TOKEN
        return self.email, self.api_token


@dataclass(frozen=True)
class OrchestratorSettings:
    """How runs are triggered, gated and reported on the issue."""

    trigger_label: str = "ai-orchestrate"
    trigger_status: str | None = None
    approve_status: str | None = None
    approvers: tuple[str, ...] = ()
    approver_permission_check: bool = False
    forbid_self_approval: bool = False
    in_progress_status: str | None = "In Progress"
    done_status: str | None = "Done"
    blocked_status: str = "Blocked"
    blocked_label: str = "ai-blocked"
    gates: tuple[str, ...] = ("EXPLORE", "PLAN")
    gate_timeout: timedelta = timedelta(days=7)
    auto_proceed: bool = False
    public_url: str = "http://localhost:8000"
    api_token: str = field(default="", repr=False)


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

    @property
    def secrets(self) -> tuple[str, ...]:
        """Every configured secret value, for masking."""
        return tuple(v for v in (self.token, self.git_token, self.coder_api_key) if v)


@dataclass(frozen=True)
class QueueSettings:
    """The job queue's schedules: monitor ticks, agent health, job recovery and the reconciliation sweep."""

    monitor_interval: timedelta = timedelta(seconds=30)
    health_interval: timedelta = timedelta(seconds=30)
    offline_after: int = 3
    recovery_interval: timedelta = timedelta(minutes=5)
    stuck_after: timedelta = timedelta(minutes=60)
    max_recoveries: int = 3
    reconcile_interval: timedelta = timedelta(minutes=5)


@dataclass(frozen=True)
class Settings:
    """All settings, built once by `Settings.from_env()` and passed down."""

    database_url: str
    var_dir: Path
    temporal: TemporalSettings = field(default_factory=TemporalSettings)
    jira: JiraSettings = field(default_factory=JiraSettings)
    orchestrator: OrchestratorSettings = field(default_factory=OrchestratorSettings)
    agents: AgentSettings = field(default_factory=AgentSettings)
    queue: QueueSettings = field(default_factory=QueueSettings)
    log_level: str = "INFO"
    web_port: int = 8000
    web_workers: int = 2
    web_threads: int = 4
    worker_shutdown_grace: timedelta = timedelta(seconds=30)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, env_file: str | Path | None = ".env") -> Settings:
        """Build settings from the process environment, falling back to a `.env` file."""
        env: dict[str, str] = {}
        if env_file is not None and Path(env_file).is_file():
            env.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
        env.update(os.environ if environ is None else environ)
        return _build(env)


def _build(env: Mapping[str, str]) -> Settings:
    def get(name: str, parse: Callable[[str, str], T], default: T) -> T:
        raw = env.get(name)
        if raw is None or raw.strip() == "":
            return default
        return parse(name, raw)

    def text(name: str, default: str) -> str:
        return get(name, lambda _n, raw: raw.strip(), default)

    def optional(name: str, default: str | None = None) -> str | None:
        return get(name, lambda _n, raw: raw.strip(), default)

    var_dir = Path(text("ORCHESTRATOR_VAR_DIR", "var")).resolve()
    database_url = text("DATABASE_URL", f"sqlite:///{var_dir / 'orchestrator.db'}")
    if "://" not in database_url:
        raise ConfigError(f"DATABASE_URL: expected a URL such as sqlite:///var/app.db, got {database_url!r}")
    log_level = text("LOG_LEVEL", "INFO").upper()
    if log_level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
        raise ConfigError(f"LOG_LEVEL: expected DEBUG, INFO, WARNING or ERROR, got {log_level!r}")
    return Settings(
        database_url=database_url,
        var_dir=var_dir,
        temporal=_temporal(env, get, text),
        jira=JiraSettings(
            base_url=get("JIRA_BASE_URL", parse_url, None),
            email=text("JIRA_EMAIL", ""),
            api_token=text("JIRA_API_TOKEN", ""),
            webhook_secret=text("JIRA_WEBHOOK_SECRET", ""),
            timeout=get("JIRA_TIMEOUT", parse_duration, timedelta(seconds=30)),
            retry_budget=get("JIRA_RETRY_BUDGET", parse_duration, timedelta(minutes=2)),
            sandbox_port=get("SANDBOX_JIRA_PORT", parse_int, 8090),
            bot_account_id=get("JIRA_BOT_ACCOUNT_ID", parse_account_id, None),
            sandbox_webhook_url=get("SANDBOX_WEBHOOK_URL", parse_url, None),
        ),
        orchestrator=OrchestratorSettings(
            trigger_label=text("ORCHESTRATOR_TRIGGER_LABEL", "ai-orchestrate"),
            trigger_status=optional("ORCHESTRATOR_TRIGGER_STATUS"),
            approve_status=optional("ORCHESTRATOR_APPROVE_STATUS"),
            approvers=get(
                "ORCHESTRATOR_APPROVERS",
                lambda _n, raw: parse_list(raw),
                # Out of the box (sandbox Jira) its `reviewer` may approve; a real site must name its approvers.
                () if env.get("JIRA_BASE_URL", "").strip() else (SANDBOX_APPROVER_GROUP,),
            ),
            approver_permission_check=get("ORCHESTRATOR_APPROVER_PERMISSION_CHECK", parse_bool, False),
            forbid_self_approval=get("ORCHESTRATOR_FORBID_SELF_APPROVAL", parse_bool, False),
            in_progress_status=optional("ORCHESTRATOR_IN_PROGRESS_STATUS", "In Progress"),
            done_status=optional("ORCHESTRATOR_DONE_STATUS", "Done"),
            blocked_status=text("ORCHESTRATOR_BLOCKED_STATUS", "Blocked"),
            blocked_label=text("ORCHESTRATOR_BLOCKED_LABEL", "ai-blocked"),
            gates=get("ORCHESTRATOR_GATES", parse_phases, ("EXPLORE", "PLAN")),
            gate_timeout=get("ORCHESTRATOR_GATE_TIMEOUT", parse_duration, timedelta(days=7)),
            auto_proceed=get("ORCHESTRATOR_AUTO_PROCEED", parse_bool, False),
            public_url=get("ORCHESTRATOR_PUBLIC_URL", parse_url, "http://localhost:8000"),
            api_token=text("ORCHESTRATOR_API_TOKEN", ""),
        ),
        agents=_agents(env, get, text, var_dir),
        queue=_queue(get),
        log_level=log_level,
        web_port=get("WEB_PORT", lambda n, raw: parse_int(n, raw, 1), 8000),
        web_workers=get("WEB_WORKERS", lambda n, raw: parse_int(n, raw, 1), 2),
        web_threads=get("WEB_THREADS", lambda n, raw: parse_int(n, raw, 1), 4),
        worker_shutdown_grace=get("WORKER_SHUTDOWN_GRACE", parse_duration, timedelta(seconds=30)),
    )


def _temporal(
    env: Mapping[str, str],
    get: Callable[[str, Callable[[str, str], Any], Any], Any],
    text: Callable[[str, str], str],
) -> TemporalSettings:
    # envconfig understands the TEMPORAL_* family (TLS certificates, gRPC metadata, profiles); we hand it the
    # merged environment so `.env` counts too, then validate the parts we rely on ourselves.
    try:
        connect_config = dict(ClientConfig.load_client_connect_config(override_env_vars=dict(env)))
    except Exception as err:  # envconfig raises plain errors for a bad profile file or TLS path
        raise ConfigError(f"TEMPORAL_*: {err}") from None
    api_key = text("TEMPORAL_API_KEY", "") or None
    return TemporalSettings(
        address=get("TEMPORAL_ADDRESS", parse_host_port, "localhost:7233"),
        namespace=text("TEMPORAL_NAMESPACE", "default"),
        task_queue=text("TEMPORAL_TASK_QUEUE", "jira-orchestration"),
        enabled=get("FEATURE_TEMPORAL_ENABLED", parse_bool, True),
        tls=get("TEMPORAL_TLS", parse_bool, api_key is not None),
        ui_url=get("TEMPORAL_UI_URL", parse_url, "http://localhost:8233"),
        api_key=api_key,
        connect_config={k: v for k, v in connect_config.items() if k not in {"api_key"}},
    )


def _queue(get: Callable[[str, Callable[[str, str], Any], Any], Any]) -> QueueSettings:
    def interval(name: str, default: timedelta) -> timedelta:
        value: timedelta = get(name, parse_duration, default)
        if value < timedelta(seconds=1):
            raise ConfigError(f"{name}: must be at least 1s, got {value.total_seconds():g}s")
        return value

    return QueueSettings(
        monitor_interval=interval("QUEUE_MONITOR_INTERVAL", timedelta(seconds=30)),
        health_interval=interval("AGENT_HEALTH_INTERVAL", timedelta(seconds=30)),
        offline_after=get("AGENT_OFFLINE_AFTER", lambda n, raw: parse_int(n, raw, 1), 3),
        recovery_interval=interval("JOB_RECOVERY_INTERVAL", timedelta(minutes=5)),
        stuck_after=interval("JOB_STUCK_AFTER", timedelta(minutes=60)),
        max_recoveries=get("JOB_MAX_RECOVERIES", parse_int, 3),
        reconcile_interval=interval("RECONCILE_INTERVAL", timedelta(minutes=5)),
    )


AGENT_ENV_PASSTHROUGH = "PATH,HOME,LANG,LC_ALL,LC_CTYPE,TZ,TMPDIR,USER,LOGNAME,SHELL,TERM"


def _existing_file(name: str, raw: str) -> Path:
    path = Path(raw.strip()).expanduser()
    if not path.is_file():
        raise ConfigError(f"{name}: no such file: {raw!r}")
    return path


def _git_remote(raw: str) -> str:
    # A URL (https://, ssh://, git@host:path) stays as it is; a local path becomes absolute.
    if "://" in raw or re.match(r"^[^/]+@[^/:]+:", raw):
        return raw
    return str(Path(raw).expanduser().resolve())


def _agents(
    env: Mapping[str, str],
    get: Callable[[str, Callable[[str, str], Any], Any], Any],
    text: Callable[[str, str], str],
    var_dir: Path,
) -> AgentSettings:
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
    )
