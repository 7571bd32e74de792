"""Console login: a personal token in, a signed session cookie out; logout; CSRF tokens; the login check of pages.

The session is Flask's signed cookie (HttpOnly, SameSite=Lax, Secure behind https) holding the user's id and when
their token was issued, so revoking or re-issuing the token ends the session at its next request. Every form
carries the session's CSRF token and every state-changing page request is refused (403) without it.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from datetime import timedelta

from flask import Blueprint, Flask, abort, g, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue

from app.config import ConfigError, Settings
from app.services.checks import check_sessions
from app.web.auth import SAFE_METHODS, console_identity, users

log = logging.getLogger(__name__)

bp = Blueprint("login", __name__)
SESSION_LIFETIME = timedelta(hours=12)
CSRF_FIELD = "csrf_token"


def session_key(settings: Settings) -> str | None:
    """ORCHESTRATOR_SECRET_KEY; None in dev (sandbox Jira) without one; ConfigError for a real site without one."""
    sessions = check_sessions(settings.web, settings.jira)
    if not sessions.ok:
        raise ConfigError(sessions.detail)
    return settings.web.secret_key or None


def configure_sessions(app: Flask, settings: Settings) -> None:
    """Sign sessions with ORCHESTRATOR_SECRET_KEY; on a real Jira site it is required, in dev one is made up."""
    key = session_key(settings)
    if key is None:
        # Dev only: each process signs its own sessions, so a login lasts until a restart and (with several
        # WEB_WORKERS) may need repeating when another worker answers. `make run` writes a shared key to .env.
        log.warning("web.session-key-generated: ORCHESTRATOR_SECRET_KEY is unset; this process made up its own")
        key = secrets.token_hex(32)
    app.secret_key = key
    app.config.update(
        SESSION_COOKIE_NAME="orchestrator_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.orchestrator.public_url.startswith("https://"),
        PERMANENT_SESSION_LIFETIME=SESSION_LIFETIME,
    )


@bp.app_context_processor
def _form_helpers() -> dict[str, object]:
    return {"csrf_token": csrf_token, "CSRF_FIELD": CSRF_FIELD, "identity": g.get("identity")}


def csrf_token() -> str:
    """This session's CSRF token (made on first use), for every form's hidden field."""
    token = session.get(CSRF_FIELD)
    if not isinstance(token, str):
        token = session[CSRF_FIELD] = secrets.token_urlsafe(32)
    return token


def check_csrf() -> None:
    """403 unless the form's CSRF token is this session's."""
    expected = session.get(CSRF_FIELD)
    given = request.form.get(CSRF_FIELD, "")
    if not isinstance(expected, str) or not hmac.compare_digest(given.encode(), expected.encode()):
        abort(403, description="missing or wrong CSRF token: reload the page and try again")


def require_login() -> ResponseReturnValue | None:
    """Console pages: without a session, go to the login page; a state-changing request needs the CSRF token."""
    who = console_identity()
    if who is None:
        return redirect(url_for("login.login_page", next=request.full_path.rstrip("?")))
    g.identity = who
    if request.method not in SAFE_METHODS:
        check_csrf()
    return None


@bp.get("/login")
def login_page() -> ResponseReturnValue:
    """The login form: a personal token from `orchestrator users add`."""
    return render_template("login.html", next=_safe_next(request.args.get("next")), error=None)


@bp.post("/login")
def login() -> ResponseReturnValue:
    """Open a session for the token's user (a fresh session: nothing from before login is kept)."""
    check_csrf()
    target = _safe_next(request.form.get("next"))
    user = users().by_token(request.form.get("token", "").strip())
    if user is None:
        log.info("web.login-refused")
        page = render_template("login.html", next=target, error="Unknown or revoked token.")
        return page, 401
    session.clear()
    session.permanent = True
    session["user_id"] = user.id
    session["issued"] = user.created_at.isoformat()
    log.info("web.login user=%s", user.name)
    return redirect(target)


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    """End the session."""
    check_csrf()
    session.clear()
    return redirect(url_for("login.login_page"))


def _safe_next(raw: str | None) -> str:
    """Where to go after login: a path on this site only (never `//host` or a full URL)."""
    if raw and raw.startswith("/") and not raw.startswith("//") and "\\" not in raw:
        return raw
    return "/"
