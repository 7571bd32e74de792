"""*Needs me*: the gates waiting for the logged-in person (they may approve them), oldest first."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template
from flask.typing import ResponseReturnValue

from app.services.gates import GateService
from app.temporal.gateway import TemporalUnavailable
from app.web.auth import current_identity
from app.web.login import require_login
from app.web.run_view import waited

bp = Blueprint("needs_me", __name__)
bp.before_request(require_login)


@bp.get("/needs-me")
def needs_me() -> ResponseReturnValue:
    """The gates this person may approve, how long each has waited and when it times out."""
    ext = current_app.extensions
    service = GateService(ext["settings"], ext["session_factory"], ext["temporal"], ext["may_steer"])
    error = None
    try:
        gates = service.waiting_for(str(current_identity().account_id))
    except TemporalUnavailable as err:
        gates, error = [], str(err)
    return render_template("needs_me.html", title="Needs me", gates=gates, waited=waited, error=error)
