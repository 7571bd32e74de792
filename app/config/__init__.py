"""Every setting of the service, read from the environment (and `.env`) in this one place.

The parsers (parsing.py) and the agents', queue's and notifications' settings (agents.py, queue.py, notify.py) live
beside it; everything is built here, by `Settings.from_env()`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

from dotenv import dotenv_values
from temporalio.envconfig import ClientConfig

from app.config.agents import AgentSettings, agent_settings
from app.config.database import DatabaseSettings, database_settings
from app.config.forge import ForgeSettings, forge_settings
from app.config.limits import RunLimitSettings, run_limit_settings
from app.config.notify import NotifySettings, notify_settings
from app.config.parsing import (
    PHASES,
    ConfigError,
    Getter,
    parse_account_id,
    parse_bind_address,
    parse_bool,
    parse_duration,
    parse_host_port,
    parse_int,
    parse_list,
    parse_phases,
    parse_url,
)
from app.config.queue import QueueSettings, queue_settings
from app.config.retention import RetentionSettings, retention_settings
from app.config.starts import StartSettings, start_settings
from app.config.web import WebSettings, web_settings

T = TypeVar("T")

# The sandbox Jira's bot account (app/sandbox); used only when JIRA_BASE_URL is unset.
SANDBOX_BOT_EMAIL = "orchestrator-bot@sandbox.invalid"
SANDBOX_BOT_TOKEN = "sandbox-bot-token"  # noqa: S105 - a fixed credential of the local sandbox, not a secret
# The sandbox forge (app/sandbox/forge.py, GitHub REST subset) that `make run` points FORGE=github at.
SANDBOX_FORGE_TOKEN = "sandbox-forge-token"  # noqa: S105 - a fixed credential of the local sandbox, not a secret
SANDBOX_FORGE_REPOSITORY = "demo/demo-repo"
# The sandbox's `reviewer` belongs to this group; it is the default approver list when JIRA_BASE_URL is unset.
SANDBOX_APPROVER_GROUP = "orchestrator-approvers"
# The sticky cache of a worker (runs kept in memory): with 200, 1,000 runs parked at gates measured 306 MB of worker
# RSS (bench/parked.py, docs/benchmarks.md); 150 keeps it under 300 MB.
WORKER_CACHE_DEFAULT = 150


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
    # The only way to accept unsigned deliveries from a real site (anyone who can reach the port could approve).
    allow_unsigned: bool = False
    # Deliveries whose event happened longer ago than this are not acted on (a captured body replayed later); Jira's
    # own retries come at most about 75 minutes late (5 retries, 5-15 minutes apart). Zero turns the check off.
    webhook_max_age: timedelta = timedelta(hours=2)
    timeout: timedelta = timedelta(seconds=30)
    retry_budget: timedelta = timedelta(minutes=2)
    sandbox_port: int = 8090
    # The bot's own account id, so the web process can ignore its own echoes without asking Jira in a request;
    # unset = learnt once from /myself in the background (webhooks/identity.py).
    bot_account_id: str | None = None
    # Where the sandbox Jira sends its webhooks; None = this service's own endpoint on WEB_PORT.
    sandbox_webhook_url: str | None = None
    # How many webhooks the sandbox sends at once: 1 keeps the outbox's order; Jira Cloud sends concurrently, in
    # no promised order (the benches that load many runs use more).
    sandbox_webhook_threads: int = 1

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
    board_labels: bool = True
    public_url: str = "http://localhost:8000"
    api_token: str = field(default="", repr=False)
    # A read-only credential for Prometheus: it opens GET /metrics and nothing else (the API token opens it too).
    metrics_token: str = field(default="", repr=False)


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
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    notify: NotifySettings = field(default_factory=NotifySettings)
    limits: RunLimitSettings = field(default_factory=RunLimitSettings)
    retention: RetentionSettings = field(default_factory=RetentionSettings)
    starts: StartSettings = field(default_factory=StartSettings)
    forge: ForgeSettings = field(default_factory=ForgeSettings)
    log_level: str = "INFO"
    web_port: int = 8000
    web_workers: int = 2
    web_threads: int = 4
    web: WebSettings = field(default_factory=WebSettings)
    worker_shutdown_grace: timedelta = timedelta(seconds=30)
    # Workflow runs a worker keeps in memory between their tasks (the SDK's sticky cache). A run waiting at a gate
    # costs about 0.6 MB there; one pushed out is replayed from its history when it next has work (a few ms).
    worker_max_cached_workflows: int = WORKER_CACHE_DEFAULT
    # Where `orchestrator worker` serves the Temporal SDK's Prometheus metrics (ip:port); None = not served.
    worker_metrics_address: str | None = None

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
    web_threads = get("WEB_THREADS", lambda n, raw: parse_int(n, raw, 1), 4)
    webhook_max_age = get("JIRA_WEBHOOK_MAX_AGE", parse_duration, timedelta(hours=2))
    return Settings(
        database_url=database_url,
        var_dir=var_dir,
        temporal=_temporal(env, get, text),
        jira=JiraSettings(
            base_url=get("JIRA_BASE_URL", parse_url, None),
            email=text("JIRA_EMAIL", ""),
            api_token=text("JIRA_API_TOKEN", ""),
            webhook_secret=text("JIRA_WEBHOOK_SECRET", ""),
            allow_unsigned=get("JIRA_WEBHOOK_ALLOW_UNSIGNED", parse_bool, False),
            webhook_max_age=webhook_max_age,
            timeout=get("JIRA_TIMEOUT", parse_duration, timedelta(seconds=30)),
            retry_budget=get("JIRA_RETRY_BUDGET", parse_duration, timedelta(minutes=2)),
            sandbox_port=get("SANDBOX_JIRA_PORT", parse_int, 8090),
            bot_account_id=get("JIRA_BOT_ACCOUNT_ID", parse_account_id, None),
            sandbox_webhook_url=get("SANDBOX_WEBHOOK_URL", parse_url, None),
            sandbox_webhook_threads=get("SANDBOX_WEBHOOK_THREADS", lambda n, raw: parse_int(n, raw, 1), 1),
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
            board_labels=get("ORCHESTRATOR_BOARD_LABELS", parse_bool, True),
            public_url=get("ORCHESTRATOR_PUBLIC_URL", parse_url, "http://localhost:8000"),
            api_token=text("ORCHESTRATOR_API_TOKEN", ""),
            metrics_token=text("ORCHESTRATOR_METRICS_TOKEN", ""),
        ),
        agents=agent_settings(env, get, text, var_dir),
        queue=queue_settings(get),
        database=database_settings(get),
        notify=notify_settings(get),
        limits=run_limit_settings(get),
        retention=retention_settings(get, webhook_max_age),
        starts=start_settings(get),
        forge=forge_settings(get),
        log_level=log_level,
        web_port=get("WEB_PORT", lambda n, raw: parse_int(n, raw, 1), 8000),
        web_workers=get("WEB_WORKERS", lambda n, raw: parse_int(n, raw, 1), 2),
        web_threads=web_threads,
        web=web_settings(get, text),
        worker_shutdown_grace=get("WORKER_SHUTDOWN_GRACE", parse_duration, timedelta(seconds=30)),
        worker_max_cached_workflows=get(
            "WORKER_MAX_CACHED_WORKFLOWS", lambda n, raw: parse_int(n, raw, 0), WORKER_CACHE_DEFAULT
        ),
        worker_metrics_address=get("WORKER_METRICS_ADDRESS", parse_bind_address, None),
    )


def _temporal(
    env: Mapping[str, str],
    get: Getter,
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


__all__ = [
    "PHASES",
    "SANDBOX_APPROVER_GROUP",
    "SANDBOX_BOT_EMAIL",
    "SANDBOX_BOT_TOKEN",
    "SANDBOX_FORGE_REPOSITORY",
    "SANDBOX_FORGE_TOKEN",
    "AgentSettings",
    "ConfigError",
    "DatabaseSettings",
    "ForgeSettings",
    "JiraSettings",
    "NotifySettings",
    "OrchestratorSettings",
    "QueueSettings",
    "RetentionSettings",
    "Settings",
    "StartSettings",
    "TemporalSettings",
    "WebSettings",
    "parse_duration",
    "parse_host_port",
]
