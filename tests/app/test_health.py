"""`/healthz` reports the database, Temporal and webhook authentication, 200 when all work, 503 naming what does not.

Details go only to authenticated callers; the checks' result is cached (issue 13 finding 7).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask
from temporalio.testing import WorkflowEnvironment

from app.config import ConfigError, Settings
from app.services.checks import Check
from app.web.factory import create_app as build_app
from app.web.health import CACHE, HealthCache
from tests.conftest import free_port, make_settings

TOKEN = "health-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


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
    app = create_app(
        make_settings(tmp_path, ORCHESTRATOR_API_TOKEN=TOKEN, DATABASE_URL=database_url, TEMPORAL_ADDRESS=address)
    )
    response = app.test_client().get("/healthz", headers=AUTH)
    assert response.status_code == 200, response.json
    assert response.json["checks"]["database"]["ok"] is True
    assert response.json["checks"]["temporal"]["ok"] is True


def test_503_names_unreachable_temporal(
    sqlite_url: str, tmp_path: Path, create_app: Callable[[Settings], Flask]
) -> None:
    address = f"127.0.0.1:{free_port()}"
    app = create_app(
        make_settings(tmp_path, ORCHESTRATOR_API_TOKEN=TOKEN, DATABASE_URL=sqlite_url, TEMPORAL_ADDRESS=address)
    )
    response = app.test_client().get("/healthz", headers=AUTH)
    assert response.status_code == 503
    temporal = response.json["checks"]["temporal"]
    assert temporal["ok"] is False
    assert address in temporal["detail"] and "connection refused" in temporal["detail"]
    assert response.json["checks"]["database"]["ok"] is True


def test_503_names_unmigrated_or_missing_database(tmp_path: Path, create_app: Callable[[Settings], Flask]) -> None:
    unmigrated = f"sqlite:///{tmp_path / 'empty.db'}"
    app = create_app(
        make_settings(tmp_path, ORCHESTRATOR_API_TOKEN=TOKEN, DATABASE_URL=unmigrated, FEATURE_TEMPORAL_ENABLED="false")
    )
    response = app.test_client().get("/healthz", headers=AUTH)
    assert response.status_code == 503
    assert "orchestrator migrate" in response.json["checks"]["database"]["detail"]
    assert response.json["checks"]["temporal"]["detail"].startswith("disabled")

    unreachable = f"postgresql+psycopg://nobody:pw@127.0.0.1:{free_port()}/none"
    app = create_app(
        make_settings(
            tmp_path, ORCHESTRATOR_API_TOKEN=TOKEN, DATABASE_URL=unreachable, FEATURE_TEMPORAL_ENABLED="false"
        )
    )
    response = app.test_client().get("/healthz", headers=AUTH)
    assert response.status_code == 503
    detail = response.json["checks"]["database"]["detail"]
    assert "cannot reach" in detail and "pw" not in detail


def test_unknown_route_is_json_404(sqlite_url: str, tmp_path: Path, create_app: Callable[[Settings], Flask]) -> None:
    app = create_app(
        make_settings(tmp_path, ORCHESTRATOR_API_TOKEN=TOKEN, DATABASE_URL=sqlite_url, FEATURE_TEMPORAL_ENABLED="false")
    )
    response = app.test_client().get("/nope")
    assert response.status_code == 404
    assert response.json["error"] == "Not Found"


def test_a_real_site_without_a_webhook_secret_is_refused_unless_allowed_and_then_said(
    sqlite_url: str, tmp_path: Path, create_app: Callable[[Settings], Flask]
) -> None:
    site = {
        "JIRA_BASE_URL": "https://acme.atlassian.net",
        "JIRA_EMAIL": "bot@acme.test",
        "JIRA_API_TOKEN": "t",
        "ORCHESTRATOR_SECRET_KEY": "k" * 32,
    }
    with pytest.raises(ConfigError, match=r"JIRA_WEBHOOK_SECRET is unset for https://acme\.atlassian\.net"):
        create_app(make_settings(tmp_path, ORCHESTRATOR_API_TOKEN=TOKEN, DATABASE_URL=sqlite_url, **site))
    allowed = make_settings(
        tmp_path, ORCHESTRATOR_API_TOKEN=TOKEN, DATABASE_URL=sqlite_url, JIRA_WEBHOOK_ALLOW_UNSIGNED="true", **site
    )
    webhooks = create_app(allowed).test_client().get("/healthz", headers=AUTH).json["checks"]["webhooks"]
    assert webhooks["ok"] is True and webhooks["detail"].startswith("UNSIGNED deliveries accepted")
    signed = make_settings(
        tmp_path, ORCHESTRATOR_API_TOKEN=TOKEN, DATABASE_URL=sqlite_url, JIRA_WEBHOOK_SECRET="s", **site
    )
    assert create_app(signed).test_client().get("/healthz", headers=AUTH).json["checks"]["webhooks"]["ok"] is True


def test_a_real_site_without_a_session_key_is_refused(
    sqlite_url: str, tmp_path: Path, create_app: Callable[[Settings], Flask]
) -> None:
    site = {"JIRA_BASE_URL": "https://acme.atlassian.net", "JIRA_WEBHOOK_SECRET": "s", "JIRA_API_TOKEN": "t"}
    with pytest.raises(ConfigError, match=r"ORCHESTRATOR_SECRET_KEY is unset for https://acme\.atlassian\.net"):
        create_app(make_settings(tmp_path, DATABASE_URL=sqlite_url, **site))
    with pytest.raises(ConfigError, match="at least 32 characters"):
        make_settings(tmp_path, ORCHESTRATOR_SECRET_KEY="short", **site)


def test_unauthenticated_callers_get_only_the_status(
    sqlite_url: str, tmp_path: Path, create_app: Callable[[Settings], Flask]
) -> None:
    healthy = create_app(
        make_settings(tmp_path, ORCHESTRATOR_API_TOKEN=TOKEN, DATABASE_URL=sqlite_url, FEATURE_TEMPORAL_ENABLED="false")
    ).test_client()
    assert healthy.get("/healthz").json == {"status": "ok"}
    wrong = healthy.get("/healthz", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 200 and wrong.json == {"status": "ok"}
    assert "checks" in healthy.get("/healthz", headers=AUTH).json

    address = f"127.0.0.1:{free_port()}"
    down = create_app(make_settings(tmp_path, DATABASE_URL=sqlite_url, TEMPORAL_ADDRESS=address)).test_client()
    response = down.get("/healthz")
    assert response.status_code == 503
    assert response.json == {"status": "degraded"}  # no host, port or error text for strangers


def test_many_hits_run_the_checks_once_per_ttl(
    sqlite_url: str, tmp_path: Path, create_app: Callable[[Settings], Flask]
) -> None:
    app = create_app(
        make_settings(tmp_path, DATABASE_URL=sqlite_url, FEATURE_TEMPORAL_ENABLED="false", HEALTH_CACHE_TTL="1h")
    )
    client = app.test_client()
    assert [client.get("/healthz").status_code for _ in range(50)] == [200] * 50
    assert app.extensions[CACHE].runs == 1


def test_the_cache_refreshes_when_stale_and_others_get_the_last_result_meanwhile() -> None:
    now = [0.0]
    entered, release = threading.Event(), threading.Event()
    results = iter([[Check("temporal", True, "up")], [Check("temporal", False, "down")]])

    def probe() -> list[Check]:
        if now[0] > 0:  # the refresh: hold it until the other caller has been answered
            entered.set()
            release.wait(10)
        return next(results)

    cache = HealthCache(10, probe, clock=lambda: now[0])
    assert cache.checks()[0].ok is True
    now[0] = 11.0
    refresher = threading.Thread(target=cache.checks)
    refresher.start()
    assert entered.wait(10)
    assert cache.checks()[0].detail == "up"  # answered at once with the last result, not a second probe
    release.set()
    refresher.join(10)
    assert cache.checks()[0].detail == "down" and cache.runs == 2
