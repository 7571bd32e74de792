"""`/healthz` reports the database, Temporal and webhook authentication, 200 when all work, 503 naming what does not."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask
from temporalio.testing import WorkflowEnvironment

from app.config import ConfigError, Settings
from app.web.factory import create_app as build_app
from tests.conftest import free_port, make_settings


@pytest.fixture
def create_app() -> Iterator[Callable[[Settings], Flask]]:
    apps: list[Flask] = []

    def make(settings: Settings) -> Flask:
        apps.append(build_app(settings))
        return apps[-1]

    yield make
    for app in apps:
        app.extensions["temporal"].close()
        app.extensions["db_engine"].dispose()


def test_healthy_when_database_and_temporal_answer(
    temporal_env: WorkflowEnvironment, database_url: str, tmp_path: Path, create_app: Callable[[Settings], Flask]
) -> None:
    address = temporal_env.client.service_client.config.target_host
    app = create_app(make_settings(tmp_path, DATABASE_URL=database_url, TEMPORAL_ADDRESS=address))
    response = app.test_client().get("/healthz")
    assert response.status_code == 200, response.json
    assert response.json["checks"]["database"]["ok"] is True
    assert response.json["checks"]["temporal"]["ok"] is True


def test_503_names_unreachable_temporal(
    sqlite_url: str, tmp_path: Path, create_app: Callable[[Settings], Flask]
) -> None:
    address = f"127.0.0.1:{free_port()}"
    app = create_app(make_settings(tmp_path, DATABASE_URL=sqlite_url, TEMPORAL_ADDRESS=address))
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    temporal = response.json["checks"]["temporal"]
    assert temporal["ok"] is False
    assert address in temporal["detail"] and "connection refused" in temporal["detail"]
    assert response.json["checks"]["database"]["ok"] is True


def test_503_names_unmigrated_or_missing_database(tmp_path: Path, create_app: Callable[[Settings], Flask]) -> None:
    unmigrated = f"sqlite:///{tmp_path / 'empty.db'}"
    app = create_app(make_settings(tmp_path, DATABASE_URL=unmigrated, FEATURE_TEMPORAL_ENABLED="false"))
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert "orchestrator migrate" in response.json["checks"]["database"]["detail"]
    assert response.json["checks"]["temporal"]["detail"].startswith("disabled")

    unreachable = f"postgresql+psycopg://nobody:pw@127.0.0.1:{free_port()}/none"
    app = create_app(make_settings(tmp_path, DATABASE_URL=unreachable, FEATURE_TEMPORAL_ENABLED="false"))
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    detail = response.json["checks"]["database"]["detail"]
    assert "cannot reach" in detail and "pw" not in detail


def test_unknown_route_is_json_404(sqlite_url: str, tmp_path: Path, create_app: Callable[[Settings], Flask]) -> None:
    app = create_app(make_settings(tmp_path, DATABASE_URL=sqlite_url, FEATURE_TEMPORAL_ENABLED="false"))
    response = app.test_client().get("/nope")
    assert response.status_code == 404
    assert response.json["error"] == "Not Found"


def test_a_real_site_without_a_webhook_secret_is_refused_unless_allowed_and_then_said(
    sqlite_url: str, tmp_path: Path, create_app: Callable[[Settings], Flask]
) -> None:
    site = {"JIRA_BASE_URL": "https://acme.atlassian.net", "JIRA_EMAIL": "bot@acme.test", "JIRA_API_TOKEN": "t"}
    with pytest.raises(ConfigError, match=r"JIRA_WEBHOOK_SECRET is unset for https://acme\.atlassian\.net"):
        create_app(make_settings(tmp_path, DATABASE_URL=sqlite_url, **site))
    allowed = make_settings(tmp_path, DATABASE_URL=sqlite_url, JIRA_WEBHOOK_ALLOW_UNSIGNED="true", **site)
    webhooks = create_app(allowed).test_client().get("/healthz").json["checks"]["webhooks"]
    assert webhooks["ok"] is True and webhooks["detail"].startswith("UNSIGNED deliveries accepted")
    signed = make_settings(tmp_path, DATABASE_URL=sqlite_url, JIRA_WEBHOOK_SECRET="s", **site)
    assert create_app(signed).test_client().get("/healthz").json["checks"]["webhooks"]["ok"] is True
