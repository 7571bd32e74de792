"""The console's runs: the list (filter by project, status, phase, starter) and one run's page (phases, the
waiting gate's content and actions, the live log of its current job)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, current_app, jsonify, render_template, request
from flask.typing import ResponseReturnValue
from sqlalchemy import func, select

from app.config import Settings
from app.services.orchestrations import OrchestrationService
from app.store.models import AgentJob, Orchestration
from app.temporal.control import NoRun
from app.temporal.gateway import TemporalUnavailable
from app.web.auth import users
from app.web.login import require_login
from app.web.run_view import durations, version_diffs

bp = Blueprint("dashboard", __name__)
bp.before_request(require_login)
FILTERS = ("project", "status", "phase", "starter")
LIVE = ("in_progress", "queued")


@bp.get("/runs")
@bp.get("/")
def index() -> ResponseReturnValue:
    """The most recent runs, filtered by project, status, phase and who started them."""
    filters = {name: request.args.get(name, "").strip()[:64] for name in FILTERS}
    query = select(Orchestration).order_by(Orchestration.created_at.desc()).limit(100)
    if filters["project"]:
        query = query.where(Orchestration.project_key == filters["project"].upper())
    if filters["status"]:
        query = query.where(Orchestration.status == filters["status"].lower())
    if filters["phase"]:
        query = query.where(Orchestration.current_phase == filters["phase"].upper())
    if filters["starter"]:
        query = query.where(Orchestration.started_by == filters["starter"])
    with current_app.extensions["session_factory"]() as session:
        runs = session.scalars(query).all()
        keys = {run.issue_key for run in runs}
        latest_pr = (
            select(AgentJob.issue_key, func.max(AgentJob.pr_link))
            .where(AgentJob.issue_key.in_(keys), AgentJob.pr_link.is_not(None))
            .group_by(AgentJob.issue_key)
        )
        prs = {key: link for key, link in session.execute(latest_pr)}
    return render_template("runs.html", title="Runs", runs=runs, filters=filters, prs=prs, **_url_helpers())


def _url_helpers() -> dict[str, Any]:
    settings: Settings = current_app.extensions["settings"]
    return {
        "jira_url": lambda key: f"{settings.jira.url.rstrip('/')}/browse/{key}",
        "temporal_url": settings.temporal.workflow_url,
    }


@bp.get("/orchestrations/<issue_key>")
def orchestration(issue_key: str) -> ResponseReturnValue:
    """One issue's run: state from the workflow, jobs from the database."""
    key = issue_key.upper()
    settings: Settings = current_app.extensions["settings"]
    state: dict[str, Any] | None = None
    error = None
    try:
        state = OrchestrationService(settings, current_app.extensions["temporal"]).state(key)
    except (NoRun, TemporalUnavailable) as err:
        error = str(err)
    with current_app.extensions["session_factory"]() as session:
        jobs = session.scalars(select(AgentJob).where(AgentJob.issue_key == key).order_by(AgentJob.created_at)).all()
    gate = state["pending_gate"] if state else None
    page = render_template(
        "run.html",
        title=key,
        issue_key=key,
        state=state,
        jobs=jobs,
        error=error,
        current_job=_current(jobs),
        people={user.account_id: user.name for user in users().list()},  # approvers by name, not account id
        durations=durations(state["phases"], datetime.now(UTC)) if state else {},
        diffs=version_diffs(state["versions"].get(gate, [])) if state and gate else [],
        jira_url=f"{settings.jira.url.rstrip('/')}/browse/{key}",
        temporal_url=settings.temporal.workflow_url(state["workflow_id"], state["run_id"]) if state else "",
    )
    return page, 404 if state is None and not jobs else 200


@bp.get("/orchestrations/<issue_key>/current-job")
def current_job(issue_key: str) -> ResponseReturnValue:
    """The job the run page's log tail follows (the running one, else the latest), and the run's status."""
    key = issue_key.upper()
    with current_app.extensions["session_factory"]() as session:
        jobs = session.scalars(select(AgentJob).where(AgentJob.issue_key == key).order_by(AgentJob.created_at)).all()
        status = session.scalar(
            select(Orchestration.status).where(Orchestration.issue_key == key).order_by(Orchestration.id.desc())
        )
    return jsonify(job_id=_current(jobs), status=status)


def _current(jobs: Any) -> str | None:
    """Top-level jobs only (lifecycle sub-jobs `<id>:createPR` show inside their job's stream)."""
    for job in reversed(jobs):
        if job.status in LIVE:
            return str(job.id)
    return str(jobs[-1].id) if jobs else None
