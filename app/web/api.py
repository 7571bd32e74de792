"""The HTTP API (`/api/...`, a personal bearer token or ORCHESTRATOR_API_TOKEN): start, steer and read orchestrations.

The actor is who the token belongs to: a named user acts under their Jira account id and is checked by the run as
a Jira commenter is; the service token acts as the trusted operator "api". An `actor` or `started_by` in the body
is only an unverified note: it is logged and echoed back as `claimed_actor`, never recorded as who acted.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, abort, current_app, jsonify, request
from flask.typing import ResponseReturnValue

from app.services.orchestrations import OrchestrationService
from app.temporal.control import COMMANDS, UPDATE_VERBS, NoRun
from app.temporal.gateway import TemporalUnavailable
from app.web.auth import Identity, current_identity, require_token
from workflows.ids import is_issue_key
from workflows.messages import Source

log = logging.getLogger(__name__)

bp = Blueprint("api", __name__, url_prefix="/api")


bp.before_request(require_token)


@bp.errorhandler(NoRun)
def no_run(err: NoRun) -> ResponseReturnValue:
    """404 for an issue without a run."""
    return jsonify(error=str(err)), 404


@bp.errorhandler(TemporalUnavailable)
def temporal_down(err: TemporalUnavailable) -> ResponseReturnValue:
    """503 while Temporal cannot be reached."""
    return jsonify(error=str(err)), 503


def service() -> OrchestrationService:
    """The orchestration service of this app."""
    return OrchestrationService(current_app.extensions["settings"], current_app.extensions["temporal"])


def _issue_key(raw: Any) -> str:
    key = str(raw or "").strip().upper()
    if not is_issue_key(key):
        abort(400, description=f"not an issue key: {str(raw)[:40]!r}")
    return key


def _body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if data is None:
        return {}
    if not isinstance(data, dict):
        abort(400, description="expected a JSON object")
    return data


@bp.get("/orchestrations/<issue_key>")
def get_orchestration(issue_key: str) -> ResponseReturnValue:
    """State of the issue's run: ids, status, current phase, phase history, pending gate."""
    return jsonify(service().state(_issue_key(issue_key)))


@bp.post("/orchestrations")
def start_orchestration() -> ResponseReturnValue:
    """Start the run of `issue_key` (a live run is returned as it is); its starter is the token's user."""
    body = _body()
    key = _issue_key(body.get("issue_key"))
    who = current_identity()
    claimed = _claimed(body, "started_by", who)
    started = service().start(key, who.account_id or who.name, Source.API)
    answer = jsonify(
        workflow_id=started.workflow_id,
        run_id=started.run_id,
        created=started.created,
        started_by=who.name,
        claimed_actor=claimed,
    )
    return answer, 201 if started.created else 200


@bp.post("/orchestrations/<issue_key>/<verb>")
def steer_orchestration(issue_key: str, verb: str) -> ResponseReturnValue:
    """approve / reject / pause / resume / cancel / retry; 409 when the run's state (or who you are) refuses it."""
    if verb not in UPDATE_VERBS:
        abort(404)
    body = _body()
    key = _issue_key(issue_key)
    field = COMMANDS[verb].text_field
    text = str(body.get(field, "") or "") if field else ""
    who = current_identity()
    claimed = _claimed(body, "actor", who)
    if who.is_service:
        result = service().command(key, verb, who.name, text, Source.API)
    else:
        # The user's account id goes through the run's approver check, exactly as their Jira comment would.
        result = service().command(key, verb, str(who.account_id), text, Source.API, trusted=False)
    answer = jsonify(accepted=result.accepted, message=result.message, actor=who.name, claimed_actor=claimed)
    return answer, 200 if result.accepted else 409


def _claimed(body: dict[str, Any], field: str, who: Identity) -> str | None:
    """The body's claimed actor, kept only as a note in the log (untrusted: it may name anyone)."""
    raw = body.get(field)
    if raw is None or raw == "":
        return None
    claimed = str(raw)[:80]
    log.info("api.claimed-actor caller=%s claimed=%r", who.name, claimed)
    return claimed
