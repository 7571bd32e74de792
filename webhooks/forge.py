"""`POST /webhooks/github` and `POST /webhooks/gitlab`: a pull request of `jira/<KEY>` merged or closed.

Same safety as the Jira endpoint: the raw body is checked before it is parsed (GitHub: `X-Hub-Signature-256`,
the HMAC-SHA256 of the body with FORGE_WEBHOOK_SECRET; GitLab: `X-Gitlab-Token`, the secret itself; both compared
in constant time), and with no FORGE_WEBHOOK_SECRET every delivery is refused. A delivery acts at most once: it
starts a workflow keyed by the pull request and the event (workflows/pull_request_closed.py), so a repeat starts
nothing. No Jira call in the request. Answers: 202 acted on, 200 ignored (JSON says why), 400 malformed, 401
unsigned or badly signed, 413 over 1 MiB, 503 Temporal unavailable (the forge retries).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from flask import Blueprint, current_app, jsonify, request
from flask.typing import ResponseReturnValue
from temporalio.service import RPCError
from werkzeug.exceptions import RequestEntityTooLarge

from app.temporal import control
from app.temporal.gateway import TemporalUnavailable
from webhooks.events import MalformedEvent
from webhooks.forge_events import Ignored, PullRequestClosed, read_github, read_gitlab
from webhooks.jira import MAX_BODY_BYTES, read_body
from webhooks.verify import InvalidSignature, verify_hub_signature, verify_shared_token
from workflows.pull_request_closed import PullRequestClosedInput, pull_request_closed_id

if TYPE_CHECKING:
    from app.config import Settings
    from app.temporal.gateway import TemporalGateway

log = logging.getLogger(__name__)

bp = Blueprint("forge_webhooks", __name__)


@bp.post("/webhooks/github")
def receive_github_webhook() -> ResponseReturnValue:
    """A GitHub `pull_request` delivery: closed and merged, or closed without merging."""
    body, secret = read_body(), _secret()
    verify_hub_signature(body, request.headers.get("X-Hub-Signature-256"), secret, "X-Hub-Signature-256")
    headers = request.headers
    return _act("github", read_github(body, headers.get("X-GitHub-Event"), headers.get("X-GitHub-Delivery")))


@bp.post("/webhooks/gitlab")
def receive_gitlab_webhook() -> ResponseReturnValue:
    """A GitLab `Merge Request Hook` delivery: merged, or closed without merging."""
    body, secret = read_body(), _secret()
    verify_shared_token(request.headers.get("X-Gitlab-Token"), secret, "X-Gitlab-Token")
    headers = request.headers
    return _act("gitlab", read_gitlab(body, headers.get("X-Gitlab-Event"), headers.get("X-Gitlab-Event-UUID")))


def _secret() -> str:
    settings: Settings = current_app.extensions["settings"]
    if not settings.forge.webhook_secret:
        raise InvalidSignature("FORGE_WEBHOOK_SECRET is not set: forge deliveries are refused")
    return settings.forge.webhook_secret


def _act(provider: str, event: PullRequestClosed | Ignored) -> ResponseReturnValue:
    if isinstance(event, Ignored):
        log.debug("forge.webhook.ignored provider=%s reason=%s", provider, event.reason)
        return jsonify(outcome="ignored", reason=event.reason), 200
    settings: Settings = current_app.extensions["settings"]
    temporal: TemporalGateway = current_app.extensions["temporal"]
    closed = PullRequestClosedInput(
        event.issue_key,
        provider,
        event.number,
        event.url,
        event.merged,
        event.delivery_id,
        settings.orchestrator.done_status,
    )
    where = f"issue={event.issue_key} provider={provider} number={event.number} delivery={event.delivery_id}"
    if not settings.temporal.enabled:
        return _unavailable(where, "disabled")
    task_queue = settings.temporal.task_queue
    try:
        started = temporal.call(lambda c: control.pull_request_closed(c, task_queue, closed))
    except (TemporalUnavailable, RPCError):
        return _unavailable(where, "unreachable")
    action = "merged" if event.merged else "closed"
    if not started:
        log.info("forge.webhook.duplicate %s", where)
        return jsonify(outcome="ignored", reason="already handled (a repeated delivery of this event)"), 200
    log.info("forge.webhook.accepted %s action=%s", where, action)
    return jsonify(outcome="accepted", action=action, workflow_id=pull_request_closed_id(closed)), 202


def _unavailable(where: str, why: str) -> ResponseReturnValue:
    log.warning("forge.webhook.temporal-%s %s", why, where)
    return jsonify(error="Temporal is unavailable; the delivery was not acted on, retry later"), 503


@bp.errorhandler(InvalidSignature)
def _bad_signature(err: InvalidSignature) -> ResponseReturnValue:
    log.warning("forge.webhook.invalid-signature reason=%s", err)
    return jsonify(error=str(err)), 401


@bp.errorhandler(MalformedEvent)
def _malformed(err: MalformedEvent) -> ResponseReturnValue:
    log.info("forge.webhook.malformed reason=%s", err)
    return jsonify(error="malformed forge webhook", reason=str(err)), 400


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(err: RequestEntityTooLarge) -> ResponseReturnValue:
    return jsonify(error=f"body over {MAX_BODY_BYTES} bytes"), 413
