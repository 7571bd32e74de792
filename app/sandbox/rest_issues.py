"""REST v2 routes on one issue: read/edit, comments, transitions, entity properties, remote links, attachments."""

from __future__ import annotations

import json
from contextlib import AbstractContextManager
from typing import Any

from flask import Blueprint, Response, jsonify, request

from app.sandbox import shapes
from app.sandbox.http import current_user, int_arg, json_body, sandbox
from app.sandbox.tracker import SandboxError

bp = Blueprint("sandbox_issues", __name__, url_prefix="/rest/api/2")

MAX_PROPERTY_LENGTH = 32768
MAX_COMMENTS_PAGE = 5000


def _answer(body: Any, status: int = 200) -> Response:
    answer = jsonify(body)
    answer.status_code = status
    return answer


def _no_content() -> Response:
    return Response(status=204)


@bp.get("/issue/<key>")
def get_issue(key: str) -> Response:
    """GET issue: all fields unless `fields` lists some; `properties` inlines entity properties; `expand=changelog`."""
    tracker = sandbox().tracker
    with tracker.store.read() as state:
        issue = tracker.issue(state, key)
        body = shapes.issue_json(issue, state["users"], tracker.base)
        wanted = [f for f in request.args.get("fields", "*all").split(",") if f]
        if "*all" not in wanted and "*navigable" not in wanted:
            body["fields"] = {k: v for k, v in body["fields"].items() if k in wanted}
        props = request.args.get("properties")
        if props:
            names = set(props.split(","))
            body["properties"] = {k: v for k, v in issue["properties"].items() if "*all" in names or k in names}
        if "changelog" in request.args.get("expand", "").split(","):
            body["changelog"] = shapes.changelog_json(issue["history"], state["users"], tracker.base)
        return _answer(body)


@bp.put("/issue/<key>")
def edit_issue(key: str) -> Response:
    """PUT issue: labels through `update` (add/remove/set) or `fields.labels`; other fields are refused."""
    data = json_body()
    update, fields = data.get("update") or {}, data.get("fields") or {}
    unknown = (set(update) | set(fields)) - {"labels"}
    if unknown:
        field = sorted(unknown)[0]
        raise SandboxError(400, **{field: f"Field '{field}' cannot be set. It is not on the appropriate screen."})
    tracker, user = sandbox().tracker, current_user()
    with tracker.store.read() as state:
        current = list(tracker.issue(state, key)["labels"])
    add, remove = [], []
    if "labels" in fields:
        add, remove = list(fields["labels"]), [label for label in current if label not in fields["labels"]]
    for op in update.get("labels", []):
        if not isinstance(op, dict):
            raise SandboxError(400, labels='Each labels operation must be an object such as {"add": "x"}.')
        add += [op["add"]] if "add" in op else []
        remove += [op["remove"]] if "remove" in op else []
        if "set" in op:
            add, remove = list(op["set"]), [label for label in current if label not in op["set"]]
    if not all(isinstance(label, str) for label in add + remove):
        raise SandboxError(400, labels="Labels must be strings.")
    tracker.edit_labels(key, user, add, remove)
    return _no_content()


@bp.get("/issue/<key>/comment")
def list_comments(key: str) -> Response:
    """GET comments, paginated with startAt/maxResults, `expand=properties` adds each comment's properties."""
    start, size = int_arg("startAt", 0), int_arg("maxResults", 100, MAX_COMMENTS_PAGE)
    order = request.args.get("orderBy", "created")
    if order not in {"created", "+created", "-created"}:
        raise SandboxError(400, f"Invalid orderBy value: {order}.")
    tracker = sandbox().tracker
    with tracker.store.read() as state:
        issue = tracker.issue(state, key)
        comments = list(reversed(issue["comments"])) if order == "-created" else list(issue["comments"])
        page = []
        for comment in comments[start : start + size]:
            item = shapes.comment_json(issue, comment, state["users"], tracker.base)
            if "properties" in request.args.get("expand", "").split(","):
                item["properties"] = shapes.properties_json(comment["properties"])
            page.append(item)
        return _answer({"startAt": start, "maxResults": size, "total": len(comments), "comments": page})


@bp.post("/issue/<key>/comment")
def add_comment(key: str) -> Response:
    """POST comment: a string body, with optional `properties` stored atomically with it."""
    data = json_body()
    body = data.get("body") if isinstance(data, dict) else None
    if not isinstance(body, str):
        raise SandboxError(400, body="Comment body can not be empty!")
    properties = {}
    for prop in data.get("properties") or []:
        if not isinstance(prop, dict) or not isinstance(prop.get("key"), str) or "value" not in prop:
            raise SandboxError(400, properties="Each property needs a key and a value.")
        properties[prop["key"]] = _property_value(prop["value"])
    return _answer(sandbox().tracker.add_comment(key, current_user(), body, properties), 201)


@bp.get("/issue/<key>/comment/<comment_id>")
def get_comment(key: str, comment_id: str) -> Response:
    """GET one comment."""
    tracker = sandbox().tracker
    with tracker.store.read() as state:
        issue = tracker.issue(state, key)
        return _answer(shapes.comment_json(issue, tracker.comment(issue, comment_id), state["users"], tracker.base))


@bp.put("/issue/<key>/comment/<comment_id>")
def update_comment(key: str, comment_id: str) -> Response:
    """PUT comment: replace the body."""
    body = json_body().get("body")
    if not isinstance(body, str):
        raise SandboxError(400, body="Comment body can not be empty!")
    return _answer(sandbox().tracker.update_comment(key, comment_id, current_user(), body))


@bp.get("/issue/<key>/transitions")
def list_transitions(key: str) -> Response:
    """GET transitions valid from the current status for the caller (empty without permission, as in Jira)."""
    tracker = sandbox().tracker
    with tracker.store.read() as state:
        issue = tracker.issue(state, key)
        return _answer({"expand": "transitions", "transitions": tracker.available_transitions(issue, current_user())})


@bp.post("/issue/<key>/transitions")
def do_transition(key: str) -> Response:
    """POST transition by id; 204."""
    transition = json_body().get("transition") or {}
    transition_id = transition.get("id") if isinstance(transition, dict) else None
    if transition_id is None:
        raise SandboxError(400, "Missing 'transition' identifier")
    sandbox().tracker.transition(key, current_user(), str(transition_id))
    return _no_content()


@bp.get("/issue/<key>/properties")
def list_issue_properties(key: str) -> Response:
    """GET the issue's property keys."""
    tracker = sandbox().tracker
    with tracker.store.read() as state:
        issue = tracker.issue(state, key)
        base = f"{tracker.base}/rest/api/2/issue/{issue['id']}/properties"
        return _answer({"keys": [{"self": f"{base}/{k}", "key": k} for k in issue["properties"]]})


@bp.route("/issue/<key>/properties/<prop>", methods=["GET", "PUT", "DELETE"])
def issue_property(key: str, prop: str) -> Response:
    """GET / PUT (201 created, 200 updated) / DELETE an issue property."""
    tracker = sandbox().tracker
    with _locked_for(request.method) as state:
        return _property(tracker.issue(state, key)["properties"], prop)


@bp.route("/comment/<comment_id>/properties/<prop>", methods=["GET", "PUT", "DELETE"])
def comment_property(comment_id: str, prop: str) -> Response:
    """GET / PUT / DELETE a comment property."""
    tracker = sandbox().tracker
    with _locked_for(request.method) as state:
        return _property(tracker.find_comment(state, comment_id)[1]["properties"], prop)


@bp.get("/issue/<key>/remotelink")
def list_remote_links(key: str) -> Response:
    """GET the issue's remote links."""
    tracker = sandbox().tracker
    with tracker.store.read() as state:
        return _answer([_link_json(link) for link in tracker.issue(state, key)["remotelinks"]])


@bp.post("/issue/<key>/remotelink")
def upsert_remote_link(key: str) -> Response:
    """POST remote link: updated in place when its `globalId` exists (200), else created (201)."""
    data = json_body()
    obj = data.get("object") if isinstance(data, dict) else None
    if not isinstance(obj, dict) or not obj.get("url") or not obj.get("title"):
        raise SandboxError(400, **{"object.url": "A link needs a url.", "object.title": "A link needs a title."})
    link = {k: data.get(k) for k in ("object", "relationship", "application")}
    link_id, created = sandbox().tracker.upsert_remote_link(key, data.get("globalId"), link)
    url = f"{sandbox().tracker.base}/rest/api/2/issue/{key}/remotelink/{link_id}"
    return _answer({"id": int(link_id), "self": url}, 201 if created else 200)


@bp.post("/issue/<key>/attachments")
def add_attachments(key: str) -> Response:
    """POST attachments: multipart field `file`; Jira refuses the upload without `X-Atlassian-Token: no-check`."""
    if request.headers.get("X-Atlassian-Token") != "no-check":
        raise SandboxError(403, "XSRF check failed")
    files = request.files.getlist("file")
    if not files:
        raise SandboxError(400, file="No file was attached (multipart field 'file').")
    tracker, user = sandbox().tracker, current_user()
    added = [tracker.add_attachment(key, user, f.filename or "attachment", f.read()) for f in files]
    return _answer(added)


@bp.get("/attachment/content/<attachment_id>")
def attachment_content(attachment_id: str) -> Response:
    """GET an attachment's content."""
    tracker = sandbox().tracker
    with tracker.store.read() as state:
        attachment = tracker.find_attachment(state, attachment_id)
        return Response(attachment["text"], mimetype=attachment["mimeType"])


def _locked_for(method: str) -> AbstractContextManager[dict[str, Any]]:
    store = sandbox().tracker.store
    return store.read() if method == "GET" else store.change()


def _link_json(link: dict[str, Any]) -> dict[str, Any]:
    return {**link, "id": int(link["id"])}


def _property(properties: dict[str, Any], prop: str) -> Response:
    if request.method == "GET":
        if prop not in properties:
            raise SandboxError(404, f"The property with key '{prop}' does not exist.")
        return _answer({"key": prop, "value": properties[prop]})
    if request.method == "DELETE":
        if properties.pop(prop, None) is None:
            raise SandboxError(404, f"The property with key '{prop}' does not exist.")
        return _no_content()
    if len(prop) > 255:
        raise SandboxError(400, "The property key cannot be longer than 255 characters.")
    created = prop not in properties
    properties[prop] = _property_value(json_body())
    return _answer({}, 201 if created else 200)


def _property_value(value: Any) -> Any:
    if value in (None, {}, [], ""):
        raise SandboxError(400, "The property value must be non-empty JSON.")
    if len(json.dumps(value)) > MAX_PROPERTY_LENGTH:
        raise SandboxError(400, f"The property value must not be longer than {MAX_PROPERTY_LENGTH} characters.")
    return value
