"""The HTTP API (`/api/...`, bearer token `ORCHESTRATOR_API_TOKEN`): start, steer and read orchestrations."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, jsonify, request
from flask.typing import ResponseReturnValue

from app.services.orchestrations import OrchestrationService
from app.temporal.control import COMMANDS, UPDATE_VERBS, NoRun
from app.temporal.gateway import TemporalUnavailable
from app.web.auth import require_token
from workflows.ids import is_issue_key
from workflows.messages import Source

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
    """Start the run of `issue_key` (a live run is returned as it is)."""
    body = _body()
    started = service().start(_issue_key(body.get("issue_key")), str(body.get("started_by") or "api"), Source.API)
    return jsonify(workflow_id=started.workflow_id, run_id=started.run_id, created=started.created), (
        201 if started.created else 200
    )


@bp.post("/orchestrations/<issue_key>/<verb>")
def steer_orchestration(issue_key: str, verb: str) -> ResponseReturnValue:
    """approve / reject / pause / resume / cancel / retry; 409 when the run's state refuses the command."""
    if verb not in UPDATE_VERBS:
        abort(404)
    body = _body()
    field = COMMANDS[verb].text_field
    text = str(body.get(field, "") or "") if field else ""
    actor = str(body.get("actor") or "api")
    result = service().command(_issue_key(issue_key), verb, actor, text, Source.API)
    return jsonify(accepted=result.accepted, message=result.message), 200 if result.accepted else 409
