"""The sandbox's own pages: an HTML page to act as a person on the issues, and the admin JSON endpoints."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, redirect, render_template, request, url_for
from werkzeug.wrappers.response import Response as BaseResponse

from app.sandbox import shapes
from app.sandbox.faults import FaultError
from app.sandbox.http import sandbox
from app.sandbox.seed import PROJECTS, STATUSES
from app.sandbox.tracker import SandboxError
from app.sandbox.wiki_render import render

bp = Blueprint("sandbox_page", __name__)


@bp.get("/")
def index() -> str:
    """Every issue with its comments, and a form per action."""
    tracker = sandbox().tracker
    with tracker.store.read() as state:
        users = state["users"]
        names = {u["accountId"]: u["name"] for u in users.values()}
        issues = [_issue_view(issue, names) for issue in state["issues"].values()]
        pending, failed = len(state["outbox"]), len(state["failed"])
    return render_template(
        "sandbox.html",
        issues=issues,
        users=[u["name"] for u in users.values()],
        statuses=[name for _, name, *_ in STATUSES],
        projects=list(PROJECTS),
        webhook_url=sandbox().webhook_url,
        pending=pending,
        failed=failed,
        error=request.args.get("error"),
    )


@bp.get("/browse/<issue_key>")
def browse(issue_key: str) -> BaseResponse:
    """Jira's issue address, so links made for a real site (the console's "Jira" links) open the issue here."""
    return redirect(url_for("sandbox_page.index", _anchor=issue_key.upper()))


@bp.post("/sandbox/act/<action>")
def act(action: str) -> BaseResponse:
    """Do one form action as the chosen person, then show the page again (with the error, if any)."""
    tracker = sandbox().tracker
    form = request.form
    try:
        user = tracker.user_by_name(form.get("as", ""))
        key = form.get("issue", "")
        if action == "comment":
            tracker.add_comment(key, user, form.get("text", ""))
        elif action == "label":
            labels = [form.get("label", "").strip()]
            tracker.edit_labels(
                key, user, labels if form.get("op") == "add" else [], labels if form.get("op") == "remove" else []
            )
        elif action == "transition":
            transition_by_status(key, user, form.get("status", ""))
        elif action == "create":
            label = form.get("label", "").strip()
            project = form.get("project", "DEMO")
            key = tracker.create_issue(user, form.get("summary", ""), "", [label] if label else [], project)
        else:
            raise SandboxError(404, f"unknown action {action}")
    except SandboxError as err:
        return redirect(url_for("sandbox_page.index", error=str(err)))
    return redirect(url_for("sandbox_page.index") + f"#{key}")


def transition_by_status(key: str, user: dict[str, Any], status: str) -> None:
    """Apply the transition leading to the status named `status` (what a person clicks in Jira)."""
    tracker = sandbox().tracker
    with tracker.store.read() as state:
        available = tracker.available_transitions(tracker.issue(state, key), user)
    for transition in available:
        if transition["to"]["name"].casefold() == status.casefold():
            tracker.transition(key, user, transition["id"])
            return
    offered = ", ".join(t["to"]["name"] for t in available) or "none"
    raise SandboxError(400, f"{user['name']} cannot move {key} to {status!r} (possible: {offered})")


@bp.get("/sandbox/attachments/<attachment_id>")
def attachment(attachment_id: str) -> Response:
    """An attachment's text for the page's link (the REST content URL asks for basic auth, which a browser lacks)."""
    tracker = sandbox().tracker
    with tracker.store.read() as state:
        text: str = tracker.find_attachment(state, attachment_id)["text"]
    # As plain text, so the browser shows it (it would download text/markdown).
    return Response(text, mimetype="text/plain")


@bp.route("/sandbox/faults", methods=["GET", "POST", "DELETE"])
def faults() -> Response:
    """GET the planned faults, POST one (JSON, see faults.py), DELETE them all."""
    plan = sandbox().faults
    if request.method == "POST":
        try:
            plan.add_json(request.get_json(silent=True))
        except FaultError as err:
            answer = jsonify(shapes.errors_json(str(err)))
            answer.status_code = 400
            return answer
    elif request.method == "DELETE":
        plan.clear()
    return jsonify(planned=plan.planned())


@bp.route("/sandbox/requests", methods=["GET", "DELETE"])
def requests_log() -> Response:
    """GET the REST requests answered since `?since=` (epoch seconds; all kept by default), DELETE to forget them."""
    traffic = sandbox().traffic
    if request.method == "DELETE":
        traffic.clear()
        return jsonify(requests=[])
    try:
        since = float(request.args.get("since", "0"))
    except ValueError:
        answer = jsonify(shapes.errors_json("since: expected epoch seconds"))
        answer.status_code = 400
        return answer
    return jsonify(requests=traffic.requests(since))


@bp.get("/sandbox/outbox")
def outbox() -> Response:
    """Webhooks still to deliver, and the last ones given up on."""
    with sandbox().tracker.store.read() as state:
        pending = [{k: d[k] for k in ("id", "event", "attempts")} for d in state["outbox"]]
        return jsonify(pending=pending, failed=list(state["failed"]))


def _issue_view(issue: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    return {
        "key": issue["key"],
        "summary": issue["summary"],
        "description": issue["description"],
        "status": shapes.status_name(issue["status"]),
        "labels": issue["labels"],
        "reporter": names.get(issue["reporter"], issue["reporter"]),
        "comments": [
            {
                "author": names.get(c["author"], c["author"]),
                "created": c["created"][:19],
                "body": c["body"],
                # As Jira shows it: the bot writes wiki markup (tables, headings, {noformat}, mentions).
                "html": render(c["body"], names),
            }
            for c in issue["comments"]
        ],
        "links": [l["object"] for l in issue["remotelinks"]],  # noqa: E741
        "attachments": [
            {
                "filename": a["filename"],
                "size": a["size"],
                "url": url_for("sandbox_page.attachment", attachment_id=a["id"]),
            }
            for a in issue.get("attachments", [])
        ],
    }
