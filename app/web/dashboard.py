"""A small read-only dashboard behind the console login: recent runs, and one run's phases, gate, failure and jobs."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, render_template
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from app.services.orchestrations import OrchestrationService
from app.store.models import AgentJob, Orchestration
from app.temporal.control import NoRun
from app.temporal.gateway import TemporalUnavailable
from app.web.login import require_login

bp = Blueprint("dashboard", __name__)
bp.before_request(require_login)


@bp.get("/")
def index() -> ResponseReturnValue:
    """The most recent runs."""
    with current_app.extensions["session_factory"]() as session:
        runs = session.scalars(select(Orchestration).order_by(Orchestration.created_at.desc()).limit(50)).all()
    return render_template("dashboard.html", title="Orchestrations", runs=runs, state=None, jobs=None, error=None)


@bp.get("/orchestrations/<issue_key>")
def orchestration(issue_key: str) -> ResponseReturnValue:
    """One issue's run: state from the workflow, jobs from the database."""
    key = issue_key.upper()
    settings = current_app.extensions["settings"]
    state: dict[str, Any] | None = None
    error = None
    try:
        state = OrchestrationService(settings, current_app.extensions["temporal"]).state(key)
    except (NoRun, TemporalUnavailable) as err:
        error = str(err)
    with current_app.extensions["session_factory"]() as session:
        jobs = session.scalars(select(AgentJob).where(AgentJob.issue_key == key).order_by(AgentJob.created_at)).all()
    temporal_url = settings.temporal.workflow_url(state["workflow_id"], state["run_id"]) if state else ""
    page = render_template(
        "dashboard.html", title=key, runs=None, state=state, jobs=jobs, error=error, temporal_url=temporal_url
    )
    return page, 404 if state is None and not jobs else 200
