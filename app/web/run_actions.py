"""The run page's buttons: approve, reject, pause, resume, cancel, retry from the console.

Each goes through the same update as the API and the same approver check as a Jira comment (the user's Jira
account id, `trusted=False`), and the run answers on the issue as it answers a comment ("from NAME (console)").
"""

from __future__ import annotations

import logging

from flask import Blueprint, abort, current_app, flash, redirect, request, url_for
from flask.typing import ResponseReturnValue

from app.services.orchestrations import OrchestrationService
from app.temporal.control import UPDATE_VERBS, NoRun
from app.temporal.gateway import TemporalUnavailable
from app.web.auth import current_identity
from app.web.login import require_login
from workflows.ids import is_issue_key
from workflows.messages import Source

log = logging.getLogger(__name__)

bp = Blueprint("run_actions", __name__)
bp.before_request(require_login)
MAX_TEXT = 4000  # notes and feedback go into the next prompt and a Jira comment


@bp.post("/orchestrations/<issue_key>/<verb>")
def act(issue_key: str, verb: str) -> ResponseReturnValue:
    """Send one command as the logged-in person; the run's answer is shown on the page (and on the issue)."""
    key = issue_key.upper()
    if verb not in UPDATE_VERBS or not is_issue_key(key):
        abort(404)
    who = current_identity()
    text = request.form.get("text", "")[:MAX_TEXT]
    service = OrchestrationService(current_app.extensions["settings"], current_app.extensions["temporal"])
    try:
        result = service.command(key, verb, str(who.account_id), text, Source.CONSOLE, trusted=False)
    except (NoRun, TemporalUnavailable) as err:
        flash(str(err), "bad")
    else:
        log.info("console.command issue=%s verb=%s user=%s accepted=%s", key, verb, who.name, result.accepted)
        flash(f"/{verb}: {result.message}", "ok" if result.accepted else "bad")
    return redirect(url_for("dashboard.orchestration", issue_key=key))
