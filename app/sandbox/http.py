"""The sandbox's HTTP plumbing: basic auth as Jira Cloud does it, Jira-shaped errors, and fault injection."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from flask import Flask, Response, current_app, g, jsonify, request
from werkzeug.exceptions import HTTPException

from app.sandbox import shapes
from app.sandbox.faults import REFUSALS, Faults
from app.sandbox.tracker import SandboxError, Tracker
from app.sandbox.traffic import Traffic

REST_PREFIX = "/rest/api/2/"


@dataclass
class Sandbox:
    """What the routes reach through `current_app.extensions["sandbox"]`."""

    tracker: Tracker
    faults: Faults
    webhook_url: str
    traffic: Traffic


def sandbox() -> Sandbox:
    """The running sandbox."""
    found: Sandbox = current_app.extensions["sandbox"]
    return found


def current_user() -> dict[str, Any]:
    """The authenticated user of this REST request."""
    user: dict[str, Any] = g.user
    return user


def json_body() -> Any:
    """The request's JSON, or a Jira-style 400."""
    data = request.get_json(silent=True)
    if data is None:
        raise SandboxError(400, "Invalid request payload. Refer to the REST API documentation and try again.")
    return data


def int_arg(name: str, default: int, maximum: int | None = None) -> int:
    """A non-negative integer query parameter, or a Jira-style 400."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit():
        raise SandboxError(400, f"The '{name}' parameter must be a non-negative integer, got '{raw}'.")
    value = int(raw)
    return min(value, maximum) if maximum is not None else value


def install(app: Flask) -> None:
    """Register auth, faults and error handlers on the sandbox app."""
    # Who is asking first, as Jira does (its rate limits are per account): a fault's answer is then recorded
    # against the account it was given to.
    app.before_request(_authenticate)
    app.before_request(_faults_before)
    # Flask runs after_request hooks in reverse order: _record sees the answer _faults_after leaves.
    app.after_request(_record)
    app.after_request(_faults_after)
    app.register_error_handler(SandboxError, _sandbox_error)
    app.register_error_handler(HTTPException, _http_error)


def _authenticate() -> Response | None:
    if not request.path.startswith(REST_PREFIX):
        return None
    auth = request.authorization
    if auth is not None and auth.type == "basic":
        with sandbox().tracker.store.read() as state:
            for user in state["users"].values():
                if user["email"] == auth.username and user["token"] == auth.password:
                    g.user = dict(user)
                    return None
    answer = jsonify(shapes.errors_json("Client must be authenticated to access this resource."))
    answer.status_code = 401
    answer.headers["WWW-Authenticate"] = 'Basic realm="sandbox-jira"'
    return answer


def _faults_before() -> Response | None:
    if not request.path.startswith(REST_PREFIX):
        return None
    user = g.get("user")
    fault = sandbox().faults.take_api(request.method, request.path, user["accountId"] if user else "")
    if fault is None:
        return None
    if fault.kind == "delay":
        time.sleep(fault.delay)
        return None
    if fault.kind == "lost":
        g.lose_answer = True
        return None
    if fault.kind in REFUSALS:
        refused = jsonify(shapes.errors_json(REFUSALS[fault.kind]))
        refused.status_code = int(fault.kind)
        return refused
    answer = jsonify(shapes.errors_json("Rate limit exceeded." if fault.kind == "429" else "Service unavailable."))
    answer.status_code = int(fault.kind)
    if fault.retry_after is not None:
        answer.headers["Retry-After"] = str(int(fault.retry_after))
    if fault.kind == "429":
        answer.headers["RateLimit-Reason"] = "jira-burst-based"
    return answer


def _faults_after(response: Response) -> Response:
    if g.get("lose_answer") and response.status_code < 400:
        # The change is made and saved; only the answer is "lost", as when a connection drops after the write.
        lost = jsonify(shapes.errors_json("Service unavailable."))
        lost.status_code = 503
        return lost
    user = g.get("user")
    if user is not None:
        response.headers["X-AAccountId"] = user["accountId"]
    return response


def _record(response: Response) -> Response:
    if request.path.startswith(REST_PREFIX):
        user = g.get("user")
        account = user["accountId"] if user is not None else ""
        sandbox().traffic.record(account, request.method, request.path, response.status_code)
    return response


def _sandbox_error(err: SandboxError) -> Response:
    answer = jsonify(err.body)
    answer.status_code = err.status
    return answer


def _http_error(err: HTTPException) -> Response:
    answer = jsonify(shapes.errors_json(err.description or err.name))
    answer.status_code = err.code or 500
    return answer
