"""Who is calling: the one check of the web surface, shared by the API, the live streams, the dashboard and health.

A caller is a named user (a personal token from `orchestrator users add`, as a bearer token or through a console
session, or named by a trusted SSO proxy's header), or the service (ORCHESTRATOR_API_TOKEN, actor "api"). A user's
actions are recorded under their Jira account id and checked as a Jira comment of theirs would be; the service is a
trusted operator, as the CLI is.
"""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass

from flask import current_app, g, jsonify, request, session
from flask.typing import ResponseReturnValue

from app.config import Settings
from app.services.users import UserService, UserView

log = logging.getLogger(__name__)

SERVICE_ACTOR = "api"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class Identity:
    """A verified caller: a named user with their Jira account id, or the service token (no account id)."""

    name: str
    account_id: str | None = None

    @property
    def is_service(self) -> bool:
        """True for ORCHESTRATOR_API_TOKEN, which acts as the trusted operator "api"."""
        return self.account_id is None


def users() -> UserService:
    """The users service of this app."""
    return UserService(current_app.extensions["session_factory"])


def require_token() -> ResponseReturnValue | None:
    """API and live routes: a bearer token (personal or service), or a console session for reading; else 401."""
    who = bearer_identity() or (console_identity() if request.method in SAFE_METHODS else None)
    if who is None:
        return jsonify(error="missing, wrong or revoked bearer token (a personal token or ORCHESTRATOR_API_TOKEN)"), 401
    g.identity = who
    return None


def current_identity() -> Identity:
    """The caller that require_token (or the login check) verified for this request."""
    who: Identity = g.identity
    return who


def bearer_identity() -> Identity | None:
    """The caller behind `Authorization: Bearer ...`: the service token first, then a personal token."""
    token = _bearer()
    if not token:
        return None
    settings: Settings = current_app.extensions["settings"]
    if bearer_matches(settings.orchestrator.api_token):
        return Identity(SERVICE_ACTOR)
    user = users().by_token(token)
    return _of(user) if user else None


def console_identity() -> Identity | None:
    """The console's user: from the session cookie, or else from a trusted SSO proxy's header."""
    return session_identity() or proxy_identity()


def proxy_identity() -> Identity | None:
    """The user an SSO proxy names in ORCHESTRATOR_TRUSTED_USER_HEADER, if the request came from that proxy."""
    settings: Settings = current_app.extensions["settings"]
    header = settings.web.trusted_user_header
    named = request.headers.get(header, "") if header else ""
    if not named:
        return None
    if not settings.web.trusted_proxies_include(request.remote_addr):
        log.warning("web.sso-header-ignored from=%s (not in ORCHESTRATOR_TRUSTED_PROXIES)", request.remote_addr)
        return None
    user = users().by_name(named)
    if user is None:
        log.info("web.sso-unknown-user (add them: orchestrator users add --name <what the proxy sends>)")
        return None
    return _of(user)


def session_identity() -> Identity | None:
    """The user of the console session, while their token is the one the session was opened with and not revoked."""
    user_id, issued = session.get("user_id"), session.get("issued")
    if not isinstance(user_id, int) or not isinstance(issued, str):
        return None
    user = users().active(user_id)
    if user is None or user.created_at.isoformat() != issued:
        return None  # revoked, or a new token issued since: the old session ends with the old token
    return _of(user)


def _of(user: UserView) -> Identity:
    return Identity(user.name, user.account_id)


def _bearer() -> str:
    given = request.headers.get("Authorization", "")
    return given[7:].strip() if given.startswith("Bearer ") else ""


def bearer_matches(*tokens: str) -> bool:
    """True when the request's `Authorization: Bearer ...` is one of the non-empty tokens (constant-time compare)."""
    given = _bearer()
    if not given:
        return False
    # Every token is compared (no short-circuit), so the time taken does not tell which one came close.
    matches = [hmac.compare_digest(given.encode(), token.encode()) for token in tokens if token]
    return any(matches)
