"""Settings are read in one place, defaulted, and validated with a message naming the bad variable."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from app.config import ConfigError, Settings


def settings(**env: str) -> Settings:
    return Settings.from_env(environ=env, env_file=None)


def test_defaults_run_the_embedded_stack() -> None:
    s = settings()
    assert s.temporal.address == "localhost:7233"
    assert s.temporal.namespace == "default"
    assert s.temporal.task_queue == "jira-orchestration"
    assert s.temporal.enabled is True
    assert s.database_url.startswith("sqlite:///") and s.database_url.endswith("var/orchestrator.db")
    assert s.jira.uses_sandbox and s.jira.url == "http://127.0.0.1:8090"
    assert s.orchestrator.trigger_label == "ai-orchestrate"
    assert s.orchestrator.trigger_status is None
    assert s.orchestrator.gates == ("EXPLORE", "PLAN")
    assert s.orchestrator.gate_timeout == timedelta(days=7)
    assert s.agents.heartbeat_timeout == timedelta(minutes=5)
    assert s.agents.start_to_close == timedelta(hours=2)
    assert s.web_port == 8000


def test_every_contract_variable_is_read() -> None:
    s = settings(
        JIRA_BASE_URL="https://acme.atlassian.net/",
        JIRA_EMAIL="bot@acme.test",
        JIRA_API_TOKEN="tok",
        JIRA_WEBHOOK_SECRET="whsec",
        TEMPORAL_ADDRESS="us-west-2.aws.api.temporal.io:7233",
        TEMPORAL_NAMESPACE="jira.acme",
        TEMPORAL_API_KEY="key-123",
        TEMPORAL_TASK_QUEUE="q",
        FEATURE_TEMPORAL_ENABLED="false",
        DATABASE_URL="postgresql+psycopg://u@db/orch",
        AGENT_ADDRESSES="10.0.0.1:50051, 10.0.0.2:50051",
        ORCHESTRATOR_API_TOKEN="api",
        ORCHESTRATOR_TRIGGER_LABEL="bot",
        ORCHESTRATOR_TRIGGER_STATUS="Ready for AI",
        ORCHESTRATOR_APPROVE_STATUS="Approved",
        ORCHESTRATOR_APPROVERS="5f2a7b9c, jira-admins",
        ORCHESTRATOR_GATES="explore,plan,code",
        ORCHESTRATOR_GATE_TIMEOUT="3d",
    )
    assert s.jira.base_url == "https://acme.atlassian.net" and not s.jira.uses_sandbox
    assert s.jira.credentials == ("bot@acme.test", "tok")
    assert s.temporal.api_key == "key-123" and s.temporal.tls is True
    assert s.temporal.connect_kwargs()["tls"] is True
    assert s.temporal.connect_kwargs()["api_key"] == "key-123"
    assert s.temporal.enabled is False
    assert s.database_url == "postgresql+psycopg://u@db/orch"
    assert s.agents.addresses == ("10.0.0.1:50051", "10.0.0.2:50051")
    assert s.orchestrator.approvers == ("5f2a7b9c", "jira-admins")
    assert s.orchestrator.gates == ("EXPLORE", "PLAN", "CODE")
    assert s.orchestrator.gate_timeout == timedelta(days=3)
    assert s.orchestrator.trigger_status == "Ready for AI"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("TEMPORAL_ADDRESS", "nowhere"),
        ("TEMPORAL_ADDRESS", "host:99999"),
        ("FEATURE_TEMPORAL_ENABLED", "maybe"),
        ("JIRA_BASE_URL", "acme.atlassian.net"),
        ("DATABASE_URL", "var/app.db"),
        ("AGENT_ADDRESSES", "localhost"),
        ("ORCHESTRATOR_GATES", "EXPLORE,DEPLOY"),
        ("ORCHESTRATOR_GATE_TIMEOUT", "a week"),
        ("WEB_PORT", "eighty"),
        ("LOG_LEVEL", "LOUD"),
        ("WORKER_METRICS_ADDRESS", "localhost:9464"),  # the SDK binds an IP, not a host name
        ("WORKER_METRICS_ADDRESS", "9464"),
        ("WORKER_METRICS_ADDRESS", "::1:9464"),
        ("WORKER_METRICS_ADDRESS", "127.0.0.1:0"),
        ("AGENT_REMOTE", "https://bot:ghp_secret123@github.com/acme/app.git"),
        ("NOTIFY_WEBHOOK_URL", "hooks.slack.com/services/T1/B2/ghp_secret123"),
        ("NOTIFY_WEBHOOK_URL", "https://hooks.slack.com/services/ghp_secret123 x"),
        ("NOTIFY_TIMEOUT", "soon"),
        ("NOTIFY_TIMEOUT", "0s"),
        ("NOTIFY_EVENTS", "gate,deploy"),
        ("NOTIFY_EVENTS", ","),
        ("NOTIFY_MENTION", "starter,everyone"),
        ("ORCHESTRATOR_SECRET_KEY", "too-short"),
        ("WEB_MAX_STREAMS", "5000"),  # more threads than one process should hold
        ("WEB_MAX_STREAMS", "-1"),
        ("WEB_MAX_BODY_BYTES", "100"),
        ("HEALTH_CACHE_TTL", "often"),
    ],
)
def test_bad_values_name_the_variable(variable: str, value: str) -> None:
    with pytest.raises(ConfigError) as err:
        settings(**{variable: value})
    assert str(err.value).startswith(f"{variable}:")
    assert "\n" not in str(err.value)
    assert "ghp_secret123" not in str(err.value)  # an error about a secret does not repeat it


@pytest.mark.parametrize(
    "remote", ["https://github.com/acme/app.git", "https://bot@github.com/acme/app.git", "git@github.com:acme/app.git"]
)
def test_a_remote_url_without_a_password_is_kept_as_given(remote: str) -> None:
    assert settings(AGENT_REMOTE=remote).agents.remote == remote


def test_worker_metrics_are_off_unless_an_address_is_given() -> None:
    assert settings().worker_metrics_address is None
    assert settings(WORKER_METRICS_ADDRESS="0.0.0.0:9464").worker_metrics_address == "0.0.0.0:9464"
    assert settings(WORKER_METRICS_ADDRESS=" [::1]:9464 ").worker_metrics_address == "[::1]:9464"


def test_env_file_is_read_and_environment_wins(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("TEMPORAL_NAMESPACE=from-file\nORCHESTRATOR_TRIGGER_LABEL=file-label\n")
    s = Settings.from_env(environ={"TEMPORAL_NAMESPACE": "from-env"}, env_file=env_file)
    assert s.temporal.namespace == "from-env"
    assert s.orchestrator.trigger_label == "file-label"


def test_secrets_stay_out_of_repr() -> None:
    s = settings(
        JIRA_API_TOKEN="jira-secret-1",
        JIRA_WEBHOOK_SECRET="hook-secret-2",
        TEMPORAL_API_KEY="temporal-secret-3",
        ORCHESTRATOR_API_TOKEN="api-secret-4",
        AGENT_TOKEN="agent-secret-5",
        ORCHESTRATOR_METRICS_TOKEN="metrics-secret-6",
        NOTIFY_WEBHOOK_URL="https://hooks.slack.com/services/T1/B2/notify-secret-7",
    )
    text = repr(s)
    secrets = (
        "jira-secret-1",
        "hook-secret-2",
        "temporal-secret-3",
        "api-secret-4",
        "agent-secret-5",
        "metrics-secret-6",
        "notify-secret-7",
    )
    for secret in secrets:
        assert secret not in text


def test_sandbox_credentials_are_used_without_a_site() -> None:
    s = settings(SANDBOX_JIRA_PORT="9999")
    assert s.jira.url == "http://127.0.0.1:9999"
    email, token = s.jira.credentials
    assert email.endswith("@sandbox.invalid") and token


def test_temporal_ui_links() -> None:
    s = settings(TEMPORAL_UI_URL="http://ui.example:8233/")
    assert s.temporal.workflow_url("orchestration-A-1", "r1") == (
        "http://ui.example:8233/namespaces/default/workflows/orchestration-A-1/r1"
    )


def test_notifications_are_off_by_default_and_read_when_configured() -> None:
    off = settings().notify
    assert off.webhook_url is None and off.webhook_host is None
    assert off.timeout_seconds == 10.0
    assert off.events == ("gate", "completed", "failed", "gate_timeout")
    assert off.mention == ("starter", "approvers")
    on = settings(
        NOTIFY_WEBHOOK_URL=" https://hooks.slack.com/services/T1/B2/tok ",
        NOTIFY_TIMEOUT="2500ms",
        NOTIFY_EVENTS="Failed, gate_timeout, failed",
        NOTIFY_MENTION="approvers",
    ).notify
    assert on.webhook_url == "https://hooks.slack.com/services/T1/B2/tok"
    assert on.webhook_host == "hooks.slack.com"
    assert on.timeout_seconds == 2.5
    assert on.events == ("failed", "gate_timeout")
    assert on.mention == ("approvers",)


def test_an_unknown_notify_word_is_named_with_the_choices() -> None:
    with pytest.raises(ConfigError) as err:
        settings(NOTIFY_EVENTS="gate,deploy")
    assert str(err.value) == (
        "NOTIFY_EVENTS: unknown event(s) deploy; expected some of gate, completed, failed, gate_timeout"
    )
    with pytest.raises(ConfigError) as err:
        settings(NOTIFY_MENTION="everyone")
    assert str(err.value) == "NOTIFY_MENTION: unknown mention(s) everyone; expected some of starter, approvers"
