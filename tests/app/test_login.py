"""The dashboard needs a login (issue 13 finding 7, issue 14 "Who you are"): personal token in, signed session out.

Without a session every page redirects to the login page; forms carry a CSRF token and are refused (403)
without it; revoking the token ends the session; the cookie is HttpOnly and SameSite=Lax.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from app.services.users import UserService
from app.web.factory import create_app
from tests.app.web_login import add_user, csrf_of, log_in
from tests.conftest import make_settings

SERVICE_TOKEN = "service-token-for-login-tests"


@pytest.fixture
def app(tmp_path: Path, sqlite_url: str) -> Iterator[Flask]:
    app = create_app(
        make_settings(
            tmp_path, DATABASE_URL=sqlite_url, FEATURE_TEMPORAL_ENABLED="false", ORCHESTRATOR_API_TOKEN=SERVICE_TOKEN
        )
    )
    yield app
    app.extensions["temporal"].close()
    app.extensions["db_engine"].dispose()


@pytest.mark.parametrize("page", ["/", "/orchestrations/DEMO-1"])
def test_every_page_redirects_to_login_without_a_session(app: Flask, page: str) -> None:
    response = app.test_client().get(page)
    assert response.status_code == 302
    assert response.headers["Location"] == f"/login?next={page}"


def test_login_opens_a_signed_httponly_lax_session_and_logout_ends_it(app: Flask) -> None:
    token = add_user(app, "rita", "acc-reviewer")
    client = app.test_client()
    csrf = csrf_of(client)
    response = client.post("/login", data={"csrf_token": csrf, "token": token, "next": "/orchestrations/DEMO-1"})
    assert response.status_code == 302 and response.headers["Location"] == "/orchestrations/DEMO-1"
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("orchestrator_session=")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert token not in cookie
    home = client.get("/")
    assert home.status_code == 200 and b"rita" in home.data and b"Log out" in home.data

    assert client.post("/logout").status_code == 403  # a forged form: no CSRF token
    assert client.get("/").status_code == 200
    assert client.post("/logout", data={"csrf_token": csrf_of(client, "/")}).status_code == 302
    assert client.get("/").status_code == 302


def test_a_wrong_token_or_a_missing_csrf_token_opens_nothing(app: Flask) -> None:
    token = add_user(app, "rita", "acc-reviewer")
    client = app.test_client()
    wrong = client.post("/login", data={"csrf_token": csrf_of(client), "token": "jo_guess"})
    assert wrong.status_code == 401 and b"Unknown or revoked token" in wrong.data
    forged = app.test_client().post("/login", data={"token": token})
    assert forged.status_code == 403
    # The service token is no person: it opens the API, never a console session.
    service = client.post("/login", data={"csrf_token": csrf_of(client), "token": SERVICE_TOKEN})
    assert service.status_code == 401
    assert client.get("/").status_code == 302


def test_revoking_the_token_ends_the_session(app: Flask) -> None:
    token = add_user(app, "rita", "acc-reviewer")
    client = app.test_client()
    log_in(client, token)
    assert client.get("/").status_code == 200
    UserService(app.extensions["session_factory"]).revoke("rita")
    assert client.get("/").status_code == 302
    # A new token for the same name does not revive the old session either.
    add_user(app, "rita", "acc-reviewer")
    assert client.get("/").status_code == 302


def test_after_login_only_a_path_on_this_site(app: Flask) -> None:
    token = add_user(app, "rita", "acc-reviewer")
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        client = app.test_client()
        response = client.post("/login", data={"csrf_token": csrf_of(client), "token": token, "next": target})
        assert response.headers["Location"] == "/"
