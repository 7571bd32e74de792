"""What one web process gives away (issue 13 finding 8 and its Low items): live streams are capped per process
(503 + Retry-After beyond WEB_MAX_STREAMS) so Jira's webhook is still answered; request bodies are limited (413 with
the reason); FEATURE_TEMPORAL_ENABLED=false answers Jira 200; the `make run` banner hides the database password.
"""

from __future__ import annotations

import importlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from flask import Flask

from app.cli.stack import banner
from app.config import ConfigError
from app.web.factory import create_app
from tests.app.web_login import add_user, log_in
from tests.conftest import free_port, make_settings

TOKEN = "limits-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
STREAM = "/api/jobs/nojob-CODE-1/logs/stream?timeout=60"


@pytest.fixture
def app(tmp_path: Path, sqlite_url: str) -> Iterator[Flask]:
    settings = make_settings(
        tmp_path,
        DATABASE_URL=sqlite_url,
        ORCHESTRATOR_API_TOKEN=TOKEN,
        FEATURE_TEMPORAL_ENABLED="false",
        WEB_MAX_STREAMS="1",
    )
    app = create_app(settings)
    yield app
    app.extensions["temporal"].close()
    app.extensions["db_engine"].dispose()


def test_streams_beyond_the_cap_are_503_with_retry_after_until_one_closes(app: Flask) -> None:
    client = app.test_client()
    assert client.get(STREAM).status_code == 401  # streams need a token or a session
    first = client.get(STREAM, headers=AUTH, buffered=False)
    assert first.status_code == 200
    busy = client.get(STREAM, headers=AUTH)
    assert busy.status_code == 503 and busy.headers["Retry-After"] == "5"
    assert "WEB_MAX_STREAMS" in busy.json["error"]
    first.close()  # the client went away: its slot is free again
    again = client.get(STREAM, headers=AUTH, buffered=False)
    assert again.status_code == 200
    again.close()


def test_a_console_session_may_follow_a_stream(app: Flask) -> None:
    client = app.test_client()
    log_in(client, add_user(app, "rita", "acc-reviewer"))
    stream = client.get("/api/jobs/nojob-CODE-1/logs/stream?timeout=0")
    assert stream.status_code == 200 and stream.mimetype == "text/event-stream"


def test_streams_have_threads_of_their_own_on_top_of_the_webhooks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no .env here
    monkeypatch.setenv("WEB_THREADS", "4")
    monkeypatch.setenv("WEB_MAX_STREAMS", "30")
    conf = importlib.reload(importlib.import_module("app.web.gunicorn_conf"))
    assert conf.threads == 34  # 30 viewers open still leave the 4 request threads to Jira
    assert make_settings(tmp_path).web.max_streams == 25  # the default, per web process
    with pytest.raises(ConfigError, match="run more web workers"):
        make_settings(tmp_path, WEB_MAX_STREAMS="501")


def test_api_bodies_are_limited_with_a_reason(app: Flask) -> None:
    client = app.test_client()
    big = {"issue_key": "API-1", "notes": "x" * (70 * 1024)}
    response = client.post("/api/orchestrations", json=big, headers=AUTH)
    assert response.status_code == 413
    assert "65536 bytes (WEB_MAX_BODY_BYTES)" in response.json["detail"]
    form = client.post("/login", data={"token": "x" * (70 * 1024)})
    assert form.status_code == 413


def test_the_banner_hides_the_database_password(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, DATABASE_URL="postgresql+psycopg://orch:s3cret-pw@db.example:5432/orch")
    text = banner(settings)
    assert "s3cret-pw" not in text and "orch:***@db.example" in text


@pytest.fixture
def gunicorn(tmp_path: Path, sqlite_url: str) -> Iterator[str]:
    """`orchestrator web` (gunicorn, one worker: 2 request threads and 6 stream threads) on a free port."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TEMPORAL_", "JIRA_", "DATABASE_", "WEB_"))}
    env.update(
        DATABASE_URL=sqlite_url,
        ORCHESTRATOR_VAR_DIR=str(tmp_path / "var"),
        ORCHESTRATOR_API_TOKEN=TOKEN,
        FEATURE_TEMPORAL_ENABLED="false",
        WEB_PORT=str(port),
        WEB_WORKERS="1",
        WEB_THREADS="2",
        WEB_MAX_STREAMS="6",
        SANDBOX_JIRA_PORT=str(free_port()),
    )
    orchestrator = str(Path(sys.executable).parent / "orchestrator")
    log = (tmp_path / "web.log").open("w")
    proc = subprocess.Popen(
        [orchestrator, "web"], cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            requests.get(f"{url}/healthz", timeout=5)
            break
        except (requests.ConnectionError, requests.Timeout):
            assert proc.poll() is None and time.monotonic() < deadline, (tmp_path / "web.log").read_text()
            time.sleep(0.1)
    yield url
    # Its stream threads would hold a graceful stop until they next write: end the group we started at once.
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(10)
    log.close()


def test_with_the_stream_cap_reached_a_webhook_is_still_answered(gunicorn: str) -> None:
    held = []
    try:
        for _ in range(6):
            stream = requests.get(gunicorn + STREAM, headers=AUTH, stream=True, timeout=10)
            assert stream.status_code == 200
            assert next(stream.iter_lines()) == b"retry: 2000"  # a thread is now busy with it
            held.append(stream)
        # More viewers: each refused at once instead of queueing for a thread.
        for _ in range(4):
            busy = requests.get(gunicorn + STREAM, headers=AUTH, timeout=10)
            assert busy.status_code == 503 and busy.headers["Retry-After"] == "5"
        # Six streams open, and the two request threads still answer Jira, several deliveries at once.
        body = b'{"webhookEvent": "jira:issue_created", "timestamp": 1}'

        def deliver(_: int) -> requests.Response:
            headers = {"Content-Type": "application/json"}
            return requests.post(gunicorn + "/webhooks/jira", data=body, headers=headers, timeout=10)

        with ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(deliver, range(8)))
        assert all(a.status_code == 200 and a.json()["outcome"] == "disabled" for a in answers)
    finally:
        for stream in held:
            stream.close()
