"""`orchestrator` commands: a bad setting or an unreachable service is one plain line, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from tests.conftest import free_port

ORCHESTRATOR = str(Path(sys.executable).parent / "orchestrator")


def run(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("TEMPORAL_", "JIRA_", "DATABASE_", "NOTIFY_"))}
    clean.update({"ORCHESTRATOR_VAR_DIR": str(tmp_path / "var"), "SANDBOX_JIRA_PORT": str(free_port())})
    clean.update(env)
    return subprocess.run(
        [ORCHESTRATOR, *args], cwd=tmp_path, env=clean, capture_output=True, text=True, timeout=60, check=False
    )


def test_malformed_setting_is_one_line(tmp_path: Path) -> None:
    result = run(tmp_path, "check", TEMPORAL_ADDRESS="nowhere")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "orchestrator: configuration error: TEMPORAL_ADDRESS: expected host:port, got 'nowhere'"
    )
    assert "Traceback" not in result.stdout + result.stderr


def test_web_refuses_a_real_site_without_a_webhook_secret_in_one_line(tmp_path: Path) -> None:
    result = run(tmp_path, "web", JIRA_BASE_URL="https://acme.atlassian.net", JIRA_EMAIL="b@acme.test")
    assert result.returncode == 2
    assert result.stderr.strip().startswith(
        "orchestrator: configuration error: JIRA_WEBHOOK_SECRET is unset for https://acme.atlassian.net"
    )


def test_web_refuses_a_real_site_without_a_session_key_in_one_line(tmp_path: Path) -> None:
    site = {"JIRA_BASE_URL": "https://acme.atlassian.net", "JIRA_EMAIL": "b@acme.test", "JIRA_WEBHOOK_SECRET": "s"}
    result = run(tmp_path, "web", **site)
    assert result.returncode == 2
    assert result.stderr.strip().startswith(
        "orchestrator: configuration error: ORCHESTRATOR_SECRET_KEY is unset for https://acme.atlassian.net"
    )


def test_check_says_what_works_and_what_does_not(tmp_path: Path) -> None:
    assert run(tmp_path, "migrate").returncode == 0
    result = run(tmp_path, "check", TEMPORAL_ADDRESS="nowhere:1")
    assert result.returncode == 1
    lines = dict(line[5:].split(":", 1) for line in result.stdout.strip().splitlines())
    assert set(lines) == {
        "temporal",
        "search attributes",
        "database",
        "jira",
        "webhooks",
        "sessions",
        "notify",
        "agents",
        "forge",
    }
    assert lines["agents"].strip() == "loopback only, plaintext"
    assert lines["forge"].strip().startswith("no pull requests")
    assert lines["notify"].strip().startswith("disabled")
    assert "each web process makes up its own (sandbox only)" in lines["sessions"]
    assert "unsigned deliveries accepted (sandbox Jira only" in lines["webhooks"]
    assert result.stdout.count("FAIL") == 3  # Temporal (and so its search attributes) and the absent sandbox Jira
    assert "could not be checked" in lines["search attributes"]
    assert "nowhere:1" in lines["temporal"] and "does not resolve" in lines["temporal"]
    assert "reachable" in lines["database"]
    assert "Traceback" not in result.stdout + result.stderr


def test_check_passes_temporal_and_database(tmp_path: Path, temporal_env: WorkflowEnvironment) -> None:
    address = temporal_env.client.service_client.config.target_host
    assert run(tmp_path, "migrate").returncode == 0
    result = run(tmp_path, "check", TEMPORAL_ADDRESS=address)
    assert f"ok   temporal: {address} reachable" in result.stdout
    assert "ok   search attributes: namespace default has the orchestration's four" in result.stdout
    assert "ok   database:" in result.stdout


def test_migrate_down_and_up(tmp_path: Path) -> None:
    assert run(tmp_path, "migrate").returncode == 0
    down = run(tmp_path, "migrate", "--revision", "base")
    assert down.returncode == 0, down.stderr
    assert "migrated to base" in down.stdout
    assert run(tmp_path, "migrate").returncode == 0
