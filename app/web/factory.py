"""The Flask application factory: settings, database, Temporal gateway and blueprints."""

from __future__ import annotations

import dataclasses
import logging
from datetime import timedelta

from flask import Flask, jsonify, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from app.config import ConfigError, Settings
from app.config.logs import configure_logging
from app.jira_gateway.approvers import ApprovalPolicy
from app.jira_gateway.gateway import JiraGateway
from app.services.checks import check_webhooks
from app.store.db import engine_for, make_session_factory
from app.temporal.gateway import TemporalGateway
from app.web.api import bp as api_bp
from app.web.dashboard import bp as dashboard_bp
from app.web.health import bp as health_bp
from app.web.live import STREAM_READERS
from app.web.live import bp as live_bp
from app.web.live_ws import bp as live_ws_bp
from app.web.login import bp as login_bp
from app.web.login import configure_sessions
from app.web.metrics import bp as metrics_bp
from app.web.needs_me import bp as needs_me_bp
from app.web.queue_api import bp as queue_api_bp
from app.web.queue_pages import bp as queue_pages_bp
from app.web.run_actions import bp as run_actions_bp
from app.web.run_events import bp as run_events_bp
from webhooks.forge import bp as forge_webhooks_bp
from webhooks.jira import bp as jira_webhooks_bp

log = logging.getLogger(__name__)
PAGE_JIRA_BUDGET = timedelta(seconds=5)


def create_app(settings: Settings | None = None, temporal: TemporalGateway | None = None) -> Flask:
    """Create the web app; tests pass their own settings (and gateway) through this seam."""
    settings = settings or Settings.from_env()
    refuse_unsigned_webhooks(settings)
    configure_logging(settings.log_level)
    app = Flask(__name__)
    configure_sessions(app, settings)
    # Every body is small (API JSON, the login form); the Jira webhook sets its own 1 MiB limit per request.
    app.config["MAX_CONTENT_LENGTH"] = settings.web.max_body_bytes
    engine = engine_for(settings, settings.web_threads + STREAM_READERS)
    # Extensions are how blueprints (and webhooks/) reach shared objects without importing app/.
    app.extensions["settings"] = settings
    app.extensions["db_engine"] = engine
    app.extensions["session_factory"] = make_session_factory(engine)
    app.extensions["temporal"] = temporal or TemporalGateway(settings.temporal)
    # The approver rule of Jira comments, for the console's *Needs me* (tests put their fake Jira's rule here). A page
    # waits on it, so Jira gets a short retry budget and timeout here, not the worker's minutes.
    page_jira = dataclasses.replace(settings.jira, retry_budget=PAGE_JIRA_BUDGET, timeout=PAGE_JIRA_BUDGET)
    approvals = ApprovalPolicy.from_settings(settings.orchestrator)
    app.extensions["may_steer"] = JiraGateway(page_jira, approvals).may_steer
    app.register_blueprint(health_bp)
    app.register_blueprint(metrics_bp)
    app.register_blueprint(api_bp)
    app.register_blueprint(live_bp)
    app.register_blueprint(live_ws_bp)
    app.register_blueprint(run_events_bp)
    app.register_blueprint(queue_api_bp)
    app.register_blueprint(login_bp)
    app.register_blueprint(dashboard_bp)
    app.register_blueprint(needs_me_bp)
    app.register_blueprint(run_actions_bp)
    app.register_blueprint(queue_pages_bp)
    app.register_blueprint(jira_webhooks_bp)
    app.register_error_handler(RequestEntityTooLarge, _too_large)
    app.register_blueprint(forge_webhooks_bp)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected_error)
    return app


def refuse_unsigned_webhooks(settings: Settings) -> None:
    """A real Jira site without a webhook secret is refused (ConfigError) unless JIRA_WEBHOOK_ALLOW_UNSIGNED=true."""
    webhooks = check_webhooks(settings.jira)
    if not webhooks.ok:
        raise ConfigError(webhooks.detail)


def _http_error(err: HTTPException) -> ResponseReturnValue:
    return jsonify(error=err.name, detail=err.description), err.code or 500


def _too_large(err: RequestEntityTooLarge) -> ResponseReturnValue:
    detail = err.description
    if detail == RequestEntityTooLarge.description:  # werkzeug's own words name no limit: say which one
        detail = f"the request body is over {request.max_content_length} bytes (WEB_MAX_BODY_BYTES)"
    return jsonify(error=err.name, detail=detail), 413


def _unexpected_error(err: Exception) -> ResponseReturnValue:
    # Never echo internals (they may hold payload text or secrets); the log has the traceback.
    log.exception("web.unexpected-error")
    return jsonify(error="Internal Server Error", detail="unexpected error; see the server log"), 500
