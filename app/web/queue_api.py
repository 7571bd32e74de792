"""The queue's HTTP API (bearer token as in app/web/api.py, the actor is the token's user): a project's queue, a
job's workflow status, cancel a job.

`GET /api/projects/<projectKey>/queue` (the seed's `/api/orgs/:orgId/queue`), `GET /api/jobs/<jobId>/workflow-status`,
`POST /api/jobs/<jobId>/cancel`.
"""

from __future__ import annotations

import re
from dataclasses import asdict

from flask import Blueprint, abort, current_app, jsonify
from flask.typing import ResponseReturnValue

from app.jobqueue.edits import QueueError
from app.services.queue import NoJob, QueueService
from app.temporal.gateway import TemporalUnavailable
from app.web.auth import current_identity, require_token

bp = Blueprint("queue_api", __name__, url_prefix="/api")
bp.before_request(require_token)

PROJECT_KEY = re.compile(r"^[A-Z][A-Z0-9_]{0,63}$")
JOB_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


@bp.errorhandler(NoJob)
def no_job(err: NoJob) -> ResponseReturnValue:
    """404 for an unknown job."""
    return jsonify(error=str(err)), 404


@bp.errorhandler(QueueError)
def refused(err: QueueError) -> ResponseReturnValue:
    """409 when the job's state refuses the change."""
    return jsonify(error=str(err)), 409


@bp.errorhandler(TemporalUnavailable)
def temporal_down(err: TemporalUnavailable) -> ResponseReturnValue:
    """503 while Temporal cannot be reached."""
    return jsonify(error=str(err)), 503


def service() -> QueueService:
    """The queue service of this app."""
    ext = current_app.extensions
    return QueueService(ext["settings"], ext["session_factory"], ext["temporal"])


def _project(raw: str) -> str:
    key = raw.strip().upper()
    if not PROJECT_KEY.match(key):
        abort(400, description=f"not a Jira project key: {raw[:40]!r}")
    return key


def _job(raw: str) -> str:
    if not JOB_ID.match(raw):
        abort(400, description=f"not a job id: {raw[:40]!r}")
    return raw


@bp.get("/projects/<project_key>/queue")
def project_queue(project_key: str) -> ResponseReturnValue:
    """The project's queue: paused or not, every executing job and every queued job in the order they will run."""
    return jsonify(asdict(service().show(_project(project_key))))


@bp.get("/jobs/<job_id>/workflow-status")
def job_workflow_status(job_id: str) -> ResponseReturnValue:
    """The job and Temporal's view of its workflow (status, run id, times, history length, UI link)."""
    return jsonify(service().workflow_status(_job(job_id)))


@bp.post("/jobs/<job_id>/cancel")
def cancel_job(job_id: str) -> ResponseReturnValue:
    """Cancel a job: removed when queued (202), its workflow cancelled when running (202), 409 when it has ended."""
    outcome = service().cancel(_job(job_id), current_identity().name)
    return jsonify(asdict(outcome)), 202
