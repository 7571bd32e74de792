"""*Queue* and *Agents* pages: each project's running and queued jobs in run order (move, remove, pause, resume
with the CLI's rules: app/services/queue.py), and every agent's health and whether its schedules are paused."""

from __future__ import annotations

import re

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from app.jobqueue.edits import QueueError
from app.services.queue import NoJob, QueueService
from app.store.models import AgentJob, ProjectQueue
from app.temporal.gateway import TemporalUnavailable
from app.temporal.schedules import agent_schedules_paused
from app.web.auth import current_identity
from app.web.login import require_login

bp = Blueprint("queue_pages", __name__)
bp.before_request(require_login)

PROJECT_KEY = re.compile(r"^[A-Z][A-Z0-9_]{0,63}$")
JOB_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def service() -> QueueService:
    """The queue service of this app."""
    ext = current_app.extensions
    return QueueService(ext["settings"], ext["session_factory"], ext["temporal"])


@bp.get("/queue")
def queues() -> ResponseReturnValue:
    """Every project with jobs or a queue setting: paused or not, executing jobs, queued jobs in run order."""
    with current_app.extensions["session_factory"]() as session:
        active = select(AgentJob.project_key).where(AgentJob.status.in_(("queued", "in_progress"))).distinct()
        projects = sorted(set(session.scalars(active)) | set(session.scalars(select(ProjectQueue.project_key))))
    views = [service().show(project) for project in projects]
    return render_template("queue.html", title="Queue", queues=views, error=None)


@bp.post("/queue/<project_key>/<action>")
def project_action(project_key: str, action: str) -> ResponseReturnValue:
    """Pause or resume a project's queue (running jobs finish)."""
    key = project_key.upper()
    if action not in ("pause", "resume") or not PROJECT_KEY.match(key):
        abort(404)
    changed = service().set_paused(key, action == "pause", current_identity().name)
    done = {"pause": "paused", "resume": "resumed"}[action]
    flash(f"queue {key} {done}" if changed else f"queue {key} was already {done}", "ok")
    return redirect(url_for("queue_pages.queues"))


@bp.post("/queue/jobs/<job_id>/<action>")
def job_action(job_id: str, action: str) -> ResponseReturnValue:
    """Move a queued job to a position (1 = next), or remove it (its run is told, as from the CLI)."""
    if action not in ("move", "remove") or not JOB_ID.match(job_id):
        abort(404)
    try:
        if action == "move":
            raw = request.form.get("position", "")
            if not raw.isdigit():
                raise QueueError("the position must be a whole number (1 = next)")
            flash(f"{job_id} is now #{service().move(job_id, int(raw))} in its queue", "ok")
        else:
            ref = service().remove(job_id, current_identity().name)
            flash(f"removed {ref.job_id} from the {ref.project_key} queue; the run of {ref.issue_key} was told", "ok")
    except (NoJob, QueueError, TemporalUnavailable) as err:
        flash(str(err), "bad")
    return redirect(url_for("queue_pages.queues"))


@bp.get("/agents")
def agents() -> ResponseReturnValue:
    """Every agent: status, consecutive failed checks, last seen, current job, schedules paused or not."""
    found = service().agents()
    temporal = current_app.extensions["temporal"]
    paused: dict[str, bool | None] = {}
    error = None
    try:
        for agent in found:
            agent_id = agent.agent_id
            paused[agent_id] = temporal.call(lambda client, a=agent_id: agent_schedules_paused(client, a))
    except TemporalUnavailable as err:
        error = str(err)
    return render_template("agents.html", title="Agents", agents=found, paused=paused, error=error)
