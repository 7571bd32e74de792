"""SSO behind a proxy (issue 14 "Who you are"): ORCHESTRATOR_TRUSTED_USER_HEADER names the signed-in person, and is
believed only from ORCHESTRATOR_TRUSTED_PROXIES; the person must be a user (`orchestrator users add --name`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.config import ConfigError
from app.services.checks import check_sessions
from app.services.users import UserService
from app.web.factory import create_app
from tests.app.web_login import add_user
from tests.conftest import make_settings

HEADER = "X-Forwarded-Email"
PROXY = "10.1.2.3"


@pytest.fixture
def app(tmp_path: Path, sqlite_url: str) -> Iterator[Flask]:
    settings = make_settings(
        tmp_path,
        DATABASE_URL=sqlite_url,
        FEATURE_TEMPORAL_ENABLED="false",
        ORCHESTRATOR_TRUSTED_USER_HEADER=HEADER,
        ORCHESTRATOR_TRUSTED_PROXIES=f"{PROXY}, 192.168.7.0/24",
    )
    app = create_app(settings)
    add_user(app, "rita@acme.test", "acc-reviewer")
    yield app
    app.extensions["temporal"].close()
    app.extensions["db_engine"].dispose()


def from_address(app: Flask, address: str) -> FlaskClient:
    """A client whose requests come from `address` (the proxy's, or someone else's)."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def test_the_proxy_names_a_user_and_the_console_knows_them_without_a_login(app: Flask) -> None:
    proxy = from_address(app, PROXY)
    page = proxy.get("/", headers={HEADER: "Rita@Acme.Test"})  # an IdP's e-mail, in whatever case it sends
    assert page.status_code == 200 and b"rita@acme.test" in page.data
    other = from_address(app, "192.168.7.40")  # a second proxy, in the configured network
    assert other.get("/", headers={HEADER: "rita@acme.test"}).status_code == 200
    stream = proxy.get("/api/jobs/nojob-CODE-1/logs/stream?timeout=0", headers={HEADER: "rita@acme.test"})
    assert stream.status_code == 200  # the live streams know the person too


def test_the_header_from_anywhere_else_or_for_a_stranger_is_not_believed(app: Flask) -> None:
    outsider = from_address(app, "10.1.2.4")  # reached the port directly, and named a user
    assert outsider.get("/", headers={HEADER: "rita@acme.test"}).status_code == 302
    proxy = from_address(app, PROXY)
    assert proxy.get("/", headers={HEADER: "mallory@acme.test"}).status_code == 302  # not a user
    assert proxy.get("/").status_code == 302  # the proxy sent no name
    UserService(app.extensions["session_factory"]).revoke("rita@acme.test")
    assert proxy.get("/", headers={HEADER: "rita@acme.test"}).status_code == 302  # revoked


def test_a_form_through_the_proxy_still_needs_the_csrf_token(app: Flask) -> None:
    proxy = from_address(app, PROXY)
    named = {HEADER: "rita@acme.test"}
    assert proxy.post("/orchestrations/DEMO-1/approve", data={"text": "go"}, headers=named).status_code == 403


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"ORCHESTRATOR_TRUSTED_USER_HEADER": HEADER}, "needs ORCHESTRATOR_TRUSTED_PROXIES"),
        ({"ORCHESTRATOR_TRUSTED_USER_HEADER": HEADER, "ORCHESTRATOR_TRUSTED_PROXIES": "proxy.local"}, "not an address"),
        ({"ORCHESTRATOR_TRUSTED_USER_HEADER": "X Email", "ORCHESTRATOR_TRUSTED_PROXIES": PROXY}, "not a header name"),
    ],
)
def test_an_sso_header_without_a_proxy_or_with_a_bad_one_is_refused(
    tmp_path: Path, env: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        make_settings(tmp_path, **env)


def test_check_says_who_the_proxy_is(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path, ORCHESTRATOR_TRUSTED_USER_HEADER=HEADER, ORCHESTRATOR_TRUSTED_PROXIES=f"{PROXY},192.168.7.0/24"
    )
    detail = check_sessions(settings.web, settings.jira).detail
    assert detail.endswith(f"SSO: the user named in {HEADER}, believed only from {PROXY}/32, 192.168.7.0/24")
