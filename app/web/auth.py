"""The one bearer check of the web surface: every API, live and metrics route goes through it."""

from __future__ import annotations

import hmac

from flask import current_app, jsonify, request
from flask.typing import ResponseReturnValue

from app.config import Settings


def require_token() -> ResponseReturnValue | None:
    """Every API call needs `Authorization: Bearer <ORCHESTRATOR_API_TOKEN>`; no token configured = API closed."""
    settings: Settings = current_app.extensions["settings"]
    expected = settings.orchestrator.api_token
    if not expected:
        return jsonify(error="the API is closed: set ORCHESTRATOR_API_TOKEN"), 401
    if not bearer_matches(expected):
        return jsonify(error="missing or wrong bearer token"), 401
    return None


def bearer_matches(*tokens: str) -> bool:
    """True when the request's `Authorization: Bearer ...` is one of the non-empty tokens (constant-time compare)."""
    given = request.headers.get("Authorization", "")
    if not given.startswith("Bearer "):
        return False
    # Every token is compared (no short-circuit), so the time taken does not tell which one came close.
    matches = [hmac.compare_digest(given[7:].encode(), token.encode()) for token in tokens if token]
    return any(matches)
