"""`GET /healthz`: is the database reachable and migrated, is Temporal reachable, are webhooks authenticated."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify
from flask.typing import ResponseReturnValue

from app.services.checks import check_database, check_temporal, check_webhooks

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    """200 when every dependency answers, 503 naming what does not."""
    checks = [
        check_database(current_app.extensions["db_engine"]),
        check_temporal(current_app.extensions["temporal"]),
        check_webhooks(current_app.extensions["settings"].jira),
    ]
    ok = all(check.ok for check in checks)
    body = {
        "status": "ok" if ok else "unavailable",
        "checks": {check.name: {"ok": check.ok, "detail": check.detail} for check in checks},
    }
    return jsonify(body), 200 if ok else 503
