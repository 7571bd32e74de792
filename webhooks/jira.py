"""`POST /webhooks/jira`: verify → parse → intent → dispatch once → answer, with no Jira call in the request.

Replays: a delivery is acted on once by its identifier, its comment and its body's hash, and not at all when its
event is older than JIRA_WEBHOOK_MAX_AGE. Answers: 202 acted on (JSON says what), 200 ignored (JSON says why), 400
malformed, 401 bad or missing signature, 413 over 1 MiB, 503 Temporal (or the database) unavailable, so Jira
retries; 200 `disabled` while FEATURE_TEMPORAL_ENABLED=false. Logs at info carry only the issue key, event name
and delivery id.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING

from flask import Blueprint, current_app, jsonify, request
from flask.blueprints import BlueprintSetupState
from flask.typing import ResponseReturnValue
from sqlalchemy.exc import SQLAlchemyError
from temporalio.service import RPCError
from werkzeug.exceptions import RequestEntityTooLarge

from app.temporal import control
from app.temporal.gateway import TemporalUnavailable, is_unavailable
from webhooks.deliveries import Claim, DeliveryStore
from webhooks.dispatch import dispatch
from webhooks.events import JiraEvent, MalformedEvent, read_jira_delivery
from webhooks.identity import BotIdentity, fetch_bot_account_id
from webhooks.intents import JIRA_INTENT_PARSERS, Ignored, IntakeRules, Intent, intent_for
from webhooks.verify import InvalidSignature, verify_jira_signature

if TYPE_CHECKING:
    from app.config import Settings

log = logging.getLogger(__name__)

bp = Blueprint("jira_webhooks", __name__)
MAX_BODY_BYTES = 1024 * 1024
TOO_LARGE = f"a Jira delivery is at most {MAX_BODY_BYTES} bytes"
IDENTITY = "jira_bot_identity"


@bp.post("/webhooks/jira")
def receive_jira_webhook() -> ResponseReturnValue:
    """Act on one Jira delivery at most once; answer within milliseconds."""
    settings: Settings = current_app.extensions["settings"]
    body = read_body()
    if settings.jira.webhook_secret:
        verify_jira_signature(body, request.headers.get("X-Hub-Signature"), settings.jira.webhook_secret)
    if not settings.temporal.enabled:
        # 200, not 503: Jira would retry a 5xx for hours, and nothing will change until the setting does.
        return jsonify(outcome="disabled", reason="Temporal is disabled (FEATURE_TEMPORAL_ENABLED=false)"), 200
    event = read_jira_delivery(body, request.headers.get("X-Atlassian-Webhook-Identifier"), JIRA_INTENT_PARSERS)
    intent = intent_for(event, _rules(settings))
    if isinstance(intent, Ignored):
        log.debug("jira.webhook.ignored event=%s reason=%s", event.webhook_event, intent.reason)
        return jsonify(outcome="ignored", reason=intent.reason), 200
    assert isinstance(event, JiraEvent)  # only read events have intents
    late = too_old(event, settings.jira.webhook_max_age, time.time())
    if late is not None:
        log.warning("jira.webhook.too-old issue=%s event=%s delivery=%s", event.issue_key, event.webhook_event,
                    event.delivery_id)  # fmt: skip
        return jsonify(outcome="ignored", reason=late), 200
    return _act_once(event, intent)


def too_old(event: JiraEvent, max_age: timedelta, now: float) -> str | None:
    """Why an event is too old to act on (a captured delivery replayed later), or None; a zero max_age never is."""
    age = now - event.timestamp / 1000
    if not max_age or age <= max_age.total_seconds():
        return None
    happened = datetime.fromtimestamp(event.timestamp / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return (
        f"the event happened at {happened}, more than {max_age} ago (JIRA_WEBHOOK_MAX_AGE): "
        "a replayed delivery, not acted on"
    )


def _act_once(event: JiraEvent, intent: Intent) -> ResponseReturnValue:
    """Claim the delivery, make the one Temporal call, and record the outcome (or release it on an outage)."""
    where = f"issue={event.issue_key} event={event.webhook_event} delivery={event.delivery_id}"
    store = DeliveryStore(current_app.extensions["session_factory"])
    claim = store.claim(event, intent.name)
    if claim is None:
        log.info("jira.webhook.duplicate %s", where)
        return jsonify(outcome="ignored", reason="already handled (a repeated delivery or the same comment)"), 200
    try:
        done = dispatch(intent, claim.delivery_id)
    except control.NoRun:
        store.settle(claim, "no-run", intent.name)
        log.info("jira.webhook.no-run %s", where)
        return jsonify(outcome="ignored", reason="no run for this issue"), 200
    except (TemporalUnavailable, RPCError) as err:
        store.release(claim)  # not acted on: Jira's retry of this delivery must be, so forget it
        key = "temporal-unavailable" if is_unavailable(err) else "temporal-refused"
        log.warning("jira.webhook.%s %s", key, where)
        return jsonify(error="Temporal is unavailable; the delivery was not acted on, retry later"), 503
    log.info("jira.webhook.accepted %s action=%s", where, done.action)
    answer = jsonify(outcome="accepted", action=done.action, workflow_id=done.workflow_id, run_id=done.run_id)
    # Recording the outcome is bookkeeping, so it runs once the answer is sent: the ack does not wait for a second
    # database write. If it never runs, the claim stays CLAIMED, which already keeps a redelivery from acting again.
    answer.call_on_close(partial(_settle_quietly, store, claim, done.action, done.workflow_id, done.run_id, where))
    return answer, 202


def _settle_quietly(
    store: DeliveryStore, claim: Claim, action: str, workflow_id: str, run_id: str | None, where: str
) -> None:
    try:
        store.settle(claim, "dispatched", f"{action} {workflow_id} {run_id or ''}".strip())
    except SQLAlchemyError as err:
        log.warning("jira.webhook.unsettled %s: %s", where, type(err).__name__)


def read_body() -> bytes:
    """The raw body, read once; over MAX_BODY_BYTES by Content-Length or by what arrives is 413."""
    if (request.content_length or 0) > MAX_BODY_BYTES:
        raise RequestEntityTooLarge(TOO_LARGE)
    # A chunked stream has no Content-Length: werkzeug stops reading at max_content_length (without an error at
    # exactly that many bytes), so read one byte more than allowed to tell "at the limit" from "over it".
    request.max_content_length = MAX_BODY_BYTES + 1
    body = request.get_data(cache=False)
    if len(body) > MAX_BODY_BYTES:
        raise RequestEntityTooLarge(TOO_LARGE)
    return body


def _rules(settings: Settings) -> IntakeRules:
    orchestrator = settings.orchestrator
    identity: BotIdentity = current_app.extensions[IDENTITY]
    return IntakeRules(
        trigger_label=orchestrator.trigger_label,
        trigger_status=orchestrator.trigger_status,
        approve_status=orchestrator.approve_status,
        bot_account_id=identity.current(),
    )


@bp.record_once
def _learn_bot_identity(state: BlueprintSetupState) -> None:
    """Know the bot's account id: from settings, or from Jira's /myself in the background (never in a request)."""
    settings: Settings = state.app.extensions["settings"]
    if not settings.jira.webhook_secret:
        log.warning("jira.webhook.unsigned JIRA_WEBHOOK_SECRET is unset: deliveries are not authenticated")
    state.app.extensions[IDENTITY] = BotIdentity(
        settings.jira.bot_account_id, partial(fetch_bot_account_id, settings.jira)
    )


@bp.errorhandler(InvalidSignature)
def _bad_signature(err: InvalidSignature) -> ResponseReturnValue:
    log.warning("jira.webhook.invalid-signature reason=%s", err)
    return jsonify(error="invalid or missing X-Hub-Signature"), 401


@bp.errorhandler(MalformedEvent)
def _malformed(err: MalformedEvent) -> ResponseReturnValue:
    log.info("jira.webhook.malformed reason=%s", err)
    return jsonify(error="malformed Jira webhook", reason=str(err)), 400


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(err: RequestEntityTooLarge) -> ResponseReturnValue:
    log.info("jira.webhook.too-large limit=%d", MAX_BODY_BYTES)
    return jsonify(error=f"body over {MAX_BODY_BYTES} bytes"), 413


@bp.errorhandler(SQLAlchemyError)
def _database_down(err: SQLAlchemyError) -> ResponseReturnValue:
    # Jira's retry is safe: the claim comes before the Temporal call, so either nothing was done, or it was and the
    # claim stands (a retry is then answered as a repeat, or re-sends the same call after STALE_CLAIM).
    log.error("jira.webhook.database-unavailable error=%s", type(err).__name__)
    return jsonify(error="the delivery store is unavailable; retry later"), 503
