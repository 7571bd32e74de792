"""The sandbox forge: the subset of GitHub's REST v3 that app/forge's GitHub provider uses, on the demo remote.

`make run` points FORGE=github at `<sandbox>/forge/api`, so the demo opens its pull request with the same
provider code as production. Served: the repository, pulls (list by state and head, create, get, update) and
issue comments, with GitHub's answers for a missing token (401), another repository (404), a head branch the
remote lacks (422) and a second open pull request for one head (422 "A pull request already exists"). Pull
requests live in the sandbox's state file; their commits and diff are read from the bare remote the demo agent
pushes to. Every POST of a pull request is recorded (`GET /forge/_admin/posts`), so tests can count them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, redirect, request
from flask.typing import ResponseReturnValue

from app.config import SANDBOX_FORGE_TOKEN
from app.sandbox.forge_git import Remote
from app.sandbox.shapes import jira_time
from app.sandbox.store import StateFile

bp = Blueprint("sandbox_forge", __name__, url_prefix="/forge")
API = "/forge/api/"


@dataclass(frozen=True)
class ForgeSite:
    """The one repository the sandbox forge serves, where its pulls are kept, and its own URL."""

    store: StateFile
    remote: Remote
    repository: str  # owner/name
    url: str  # the sandbox's base URL

    def pulls(self, state: dict[str, Any]) -> list[dict[str, Any]]:
        """The stored pull requests (in `state`, under the store's lock)."""
        forge: dict[str, Any] = state.setdefault("forge", {"pulls": [], "comments": [], "posts": []})
        pulls: list[dict[str, Any]] = forge["pulls"]
        return pulls

    def as_json(self, pull: dict[str, Any]) -> dict[str, Any]:
        """A pull request as GitHub answers it (the fields the provider reads, and a few more)."""
        owner = self.repository.split("/")[0]
        api = f"{self.url}/forge/api/repos/{self.repository}"
        return {
            **pull,
            "url": f"{api}/pulls/{pull['number']}",
            "html_url": f"{self.url}/forge/{self.repository}/pull/{pull['number']}",
            "head": {"label": f"{owner}:{pull['head']}", "ref": pull["head"], "sha": self.remote.sha(pull["head"])},
            "base": {"label": f"{owner}:{pull['base']}", "ref": pull["base"], "sha": self.remote.sha(pull["base"])},
            "user": {"login": "orchestrator-bot"},
        }


def site() -> ForgeSite:
    """The running sandbox forge."""
    found: ForgeSite = current_app.extensions["sandbox_forge"]
    return found


@bp.before_request
def _authenticate() -> Response | None:
    if not request.path.startswith(API):
        return None
    scheme, _, token = (request.headers.get("Authorization") or "").partition(" ")
    if scheme.lower() in ("token", "bearer") and token == SANDBOX_FORGE_TOKEN:
        return None
    return _answer({"message": "Bad credentials", "status": "401"}, 401)


@bp.get("/api/repos/<owner>/<name>")
def get_repository(owner: str, name: str) -> Response:
    """The repository, with its default branch."""
    _repository(owner, name)
    full = f"{owner}/{name}"
    return _answer({"name": name, "full_name": full, "default_branch": site().remote.default_branch()})


@bp.get("/api/repos/<owner>/<name>/pulls")
def list_pulls(owner: str, name: str) -> Response:
    """Pulls filtered by `state` (open, closed, all; default open) and `head` (`owner:branch`), newest first, or
    most recently updated first with `sort=updated` (GitHub's `direction` defaults to desc)."""
    _repository(owner, name)
    wanted, head = request.args.get("state", "open"), request.args.get("head", "")
    with site().store.read() as state:
        pulls = [dict(p) for p in site().pulls(state)]
    pulls = [p for p in pulls if wanted == "all" or p["state"] == wanted]
    if head:
        pulls = [p for p in pulls if f"{owner}:{p['head']}" == head]
    pulls.reverse()
    if request.args.get("sort") == "updated":
        pulls.sort(key=lambda p: str(p["updated_at"]), reverse=request.args.get("direction", "desc") == "desc")
    return _answer([site().as_json(p) for p in pulls])


@bp.post("/api/repos/<owner>/<name>/pulls")
def create_pull(owner: str, name: str) -> Response:
    """Open a pull request of `head` onto `base` (422 when the head is unknown or already has an open one)."""
    _repository(owner, name)
    data = request.get_json(silent=True) or {}
    head, base, title = (str(data.get(k) or "") for k in ("head", "base", "title"))
    forge = site()
    with forge.store.change() as state:
        pulls = forge.pulls(state)
        state["forge"]["posts"].append({"path": request.path, "head": head, "at": jira_time()})
        if not title or forge.remote.sha(head) is None or forge.remote.sha(base) is None:
            return _invalid({"resource": "PullRequest", "field": "head" if title else "title", "code": "invalid"})
        if any(p["head"] == head and p["state"] == "open" for p in pulls):
            return _invalid({"resource": "PullRequest", "code": "custom", "message": _exists(owner, head)})
        now = jira_time()
        pull = {
            "number": len(pulls) + 1,
            "state": "open",
            "title": title,
            "body": str(data.get("body") or ""),
            "draft": bool(data.get("draft", False)),
            "merged_at": None,
            "head": head,
            "base": base,
            "created_at": now,
            "updated_at": now,
        }
        pulls.append(pull)
        return _answer(forge.as_json(pull), 201)


@bp.get("/api/repos/<owner>/<name>/pulls/<int:number>")
def get_pull(owner: str, name: str, number: int) -> Response:
    """One pull request."""
    _repository(owner, name)
    with site().store.read() as state:
        return _answer(site().as_json(find_pull(state, number)))


@bp.patch("/api/repos/<owner>/<name>/pulls/<int:number>")
def update_pull(owner: str, name: str, number: int) -> Response:
    """Change the title, body, base or state (open/closed) of a pull request."""
    _repository(owner, name)
    data = request.get_json(silent=True) or {}
    with site().store.change() as state:
        pull = find_pull(state, number)
        for key in ("title", "body", "base"):
            if isinstance(data.get(key), str):
                pull[key] = data[key]
        if data.get("state") in ("open", "closed") and pull["merged_at"] is None:
            pull["state"] = data["state"]
        pull["updated_at"] = jira_time()
        return _answer(site().as_json(pull))


@bp.get("/api/repos/<owner>/<name>/issues/<int:number>")
def get_issue(owner: str, name: str, number: int) -> Response:
    """A pull request as an issue (GitHub keeps a pull request's conversation on its issue)."""
    _repository(owner, name)
    with site().store.read() as state:
        pull = find_pull(state, number)
        api = f"{site().url}/forge/api/repos/{site().repository}"
        return _answer(
            {"number": number, "title": pull["title"], "state": pull["state"], "url": f"{api}/issues/{number}"}
        )


@bp.post("/api/repos/<owner>/<name>/issues/<int:number>/comments")
def add_comment(owner: str, name: str, number: int) -> Response:
    """Comment on a pull request's conversation."""
    _repository(owner, name)
    text = str((request.get_json(silent=True) or {}).get("body") or "")
    with site().store.change() as state:
        find_pull(state, number)
        comments: list[dict[str, Any]] = state["forge"]["comments"]
        comment = {"id": len(comments) + 1, "number": number, "body": text, "created_at": jira_time()}
        comments.append(comment)
        return _answer(comment, 201)


@bp.post("/_admin/pulls/<int:number>/merge")
def merge(number: int) -> ResponseReturnValue:
    """Mark the pull request merged, as a person merging it on GitHub would (the sandbox sends no forge webhook:
    the worker's reconciliation sweep finds the merge, as it finds one whose webhook was lost)."""
    with site().store.change() as state:
        pull = find_pull(state, number)
        if pull["merged_at"] is None:
            pull["state"], pull["merged_at"] = "closed", jira_time()
            pull["updated_at"] = pull["merged_at"]
        merged = site().as_json(pull)
    if request.form:  # the page's Merge button: back to the page
        return redirect(merged["html_url"], 303)
    return _answer(merged)


@bp.get("/_admin/posts")
def posts() -> Response:
    """Every POST of a pull request the forge received (refused ones too), for tests and curious people."""
    with site().store.read() as state:
        return _answer(list((state.get("forge") or {}).get("posts", [])))


class ForgeNotFound(Exception):
    """GitHub's 404 (another repository, an unknown pull request)."""


def _repository(owner: str, name: str) -> None:
    if f"{owner}/{name}" != site().repository:
        raise ForgeNotFound


def find_pull(state: dict[str, Any], number: int) -> dict[str, Any]:
    """The stored pull request `number` (ForgeNotFound: GitHub's 404)."""
    for pull in site().pulls(state):
        if pull["number"] == number:
            return pull
    raise ForgeNotFound


def _exists(owner: str, head: str) -> str:
    return f"A pull request already exists for {owner}:{head}."


def _invalid(error: dict[str, str]) -> Response:
    return _answer({"message": "Validation Failed", "errors": [error]}, 422)


def _answer(body: Any, status: int = 200) -> Response:
    answer = jsonify(body)
    answer.status_code = status
    return answer


@bp.errorhandler(ForgeNotFound)
def _not_found(_err: ForgeNotFound) -> Response:
    return _answer({"message": "Not Found", "documentation_url": "https://docs.github.com/rest"}, 404)
