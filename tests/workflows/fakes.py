"""Test doubles for the workflow tests: a recording Jira gateway and a scripted agent (same activity names)."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.agent_types import AgentCommand, AgentOutcome, CredentialRefs, CredentialsRequest
from app.forge import ForgeError, Opened, PullRequest, PullRequestDraft
from app.jira_gateway.models import ApproverDecision, Attachment, IssueSnapshot, QuietAnswer, TransitionOutcome
from workflows.messages import CommandContext, Source
from workflows.phases import PHASE_SPECS
from workflows.results import PHASE_KEYS, PhaseResult, from_document

APPROVER = "acc-reviewer"
OUTSIDER = "acc-outsider"
BOT = "acc-bot"
STARTERS_GROUP = "5b1e7c2a-0d4f-4e8a-9c3b-7a6d5e4f3a21"  # a group id, as Jira Cloud has them
# The typed results the demo profile writes (tests/agent/test_demo_profile.py checks it writes this shape).
RESULTS = Path(__file__).resolve().parents[1] / "fixtures" / "results"


def typed(name: str) -> PhaseResult:
    """A shared fixture's typed result (tests/fixtures/results/<name>.json), as the dispatch activity reads it."""
    return from_document(name.split("-")[0], json.loads((RESULTS / f"{name}.json").read_text()))


class AuthenticationError(Exception):
    """Same class name as the gateway's: the activity layer types it non-retryable."""


class FakeJira:
    """A recording JiraPort: idempotent like the real gateway, so duplicates would show up as counts."""

    def __init__(self) -> None:
        self.status_comments: dict[str, str] = {}
        self.status_edits = 0
        self.status_ids_passed: list[str | None] = []  # what each status write was told of its comment's id
        self.comments: dict[str, str] = {}
        self.comment_posts: list[str] = []
        self.statuses: list[str] = []
        self.status = "To Do"
        self.labels: set[str] = {"ai-orchestrate"}
        self.label_history: list[list[str]] = []
        self.steering = threading.Event()
        self.steer_released = threading.Event()
        self.steer_released.set()
        self.links: dict[str, str] = {}
        self.attachments: dict[str, str] = {}  # file name → text
        self.writes: list[str] = []  # the order of comments and attachments, as the outbox delivered them
        self.refuse_auth = False
        self.has_blocked_status = True

    def attach_text(self, issue_key: str, filename: str, text: str) -> Attachment:
        self._check()
        self.attachments[filename] = text
        self.writes.append(f"attachment:{filename}")
        number = str(len(self.attachments))
        return Attachment(
            number, filename, len(text.encode()), f"https://jira.invalid/rest/api/2/attachment/content/{number}"
        )

    def upsert_status_comment(self, issue_key: str, run_key: str, body: str, known_id: str | None = None) -> str:
        self._check()
        self.status_ids_passed.append(known_id)
        self.status_comments[run_key] = body
        self.status_edits += 1
        return f"status-{run_key}"

    def post_comment_once(self, issue_key: str, event_key: str, body: str, quiet: QuietAnswer | None = None) -> str:
        self._check()
        if event_key not in self.comments:
            self.comments[event_key] = body
            self.comment_posts.append(event_key)
            self.writes.append(f"comment:{event_key}")
        return event_key

    def transition_to(self, issue_key: str, status_name: str, fallback_label: str | None = None) -> TransitionOutcome:
        self._check()
        if status_name == "Blocked" and not self.has_blocked_status:
            self.labels.add(fallback_label or "ai-blocked")
            return TransitionOutcome(self.status, "labelled")
        if self.status == status_name:
            return TransitionOutcome(status_name, "already")
        self.status = status_name
        self.statuses.append(status_name)
        return TransitionOutcome(status_name, "transitioned")

    def change_labels(self, issue_key: str, add: list[str], remove: list[str]) -> None:
        self._check()
        self.labels = (self.labels - set(remove)) | set(add)
        self.label_history.append(sorted(self.labels))

    def read_issue(self, issue_key: str) -> IssueSnapshot:
        self._check()
        # The gateway's own dataclasses, so the activities hand the workflow what they hand it with the real one.
        return IssueSnapshot(
            issue_key, "Add a greeting function", "Say hello.", ("ai-orchestrate",), "To Do", "acc-reporter", "DEMO"
        )

    def upsert_remote_link(self, issue_key: str, global_id: str, url: str, title: str) -> None:
        self.links[global_id] = url

    def group_ids(self, account_id: str) -> tuple[str, ...]:
        """APPROVER is in the group STARTERS_GROUP (by id); nobody else is in any group."""
        return (STARTERS_GROUP,) if account_id == APPROVER else ()

    def may_steer(
        self, issue_key: str, account_id: str, started_by: str | None = None, verb: str = ""
    ) -> ApproverDecision:
        self.steering.set()
        self.steer_released.wait(30)  # a test may hold the approver check (a command still being handled)
        if account_id == BOT:
            return ApproverDecision(False, "that is the bot itself", "", is_bot=True)
        if account_id == APPROVER:
            return ApproverDecision(True, "listed in ORCHESTRATOR_APPROVERS", "")
        return ApproverDecision(False, f"{account_id} is not an approver", "May approve: reviewer (acc-reviewer).")

    def texts(self) -> list[str]:
        return [self.comments[key] for key in self.comment_posts]

    def _check(self) -> None:
        if self.refuse_auth:
            raise AuthenticationError("401 from Jira: credentials refused")


Script = Callable[[AgentCommand], AgentOutcome]


class FakeAgent:
    """Scripted agent activities: outcome per (command, attempt of that phase); records every request."""

    def __init__(self) -> None:
        self.requests: list[AgentCommand] = []
        self.scripts: dict[str, list[Script]] = {}
        self.block: set[str] = set()
        self.started: asyncio.Event = asyncio.Event()
        self.cancelled: list[str] = []

    def script(self, command: str, *outcomes: Script) -> None:
        self.scripts[command] = list(outcomes)

    def calls(self, command: str) -> list[AgentCommand]:
        return [r for r in self.requests if r.command == command]

    def activities(self) -> list[Callable[..., Any]]:
        @activity.defn(name="execute_agent_job")
        async def execute_agent_job(request: AgentCommand) -> AgentOutcome:
            self.requests.append(request)
            if request.command in self.block:
                self.started.set()
                try:
                    while request.command in self.block:
                        activity.heartbeat()
                        await asyncio.sleep(0.05)
                except asyncio.CancelledError:
                    self.cancelled.append(request.job_id)
                    raise
            queue = self.scripts.get(request.command)
            if queue:
                outcome = queue.pop(0) if len(queue) > 1 else queue[0]
                return outcome(request)
            return ok(request)

        @activity.defn(name="get_credentials")
        async def get_credentials(request: CredentialsRequest) -> CredentialRefs:
            return CredentialRefs(["git:default", "agent:default"])

        return [execute_agent_job, get_credentials]


def ok(request: AgentCommand) -> AgentOutcome:
    # A phase's work under the name the shipped profiles give it (tests/agent/test_profiles.py pins them).
    name = PHASE_SPECS[request.command].output if request.command in PHASE_SPECS else "report"
    outputs = {name: f"{request.command} output for {request.issue_key}"}
    if request.command == "createPR":
        outputs["pr_url"] = f"file:///remote.git#jira/{request.issue_key}"
    result = typed(request.command) if request.command in PHASE_KEYS else None
    return AgentOutcome(True, f"{request.command} done", outputs, None, None, f"{request.command} log tail", result)


def failing_tests(request: AgentCommand) -> AgentOutcome:
    return AgentOutcome(
        False,
        "1 test failed",
        {"test_report": "FAILED test_greeting"},
        "TESTS_FAILED",
        "1 failed",
        "FAILED test_greeting",
        typed("TEST-failing"),
    )


def bad_request(request: AgentCommand) -> AgentOutcome:
    raise ApplicationError("the agent refused the request: unknown repo", type="ValidationError", non_retryable=True)


def credentials_refused(request: AgentCommand) -> AgentOutcome:
    # What the dispatch activity raises when the agent reports PERMISSION_DENIED (git's refusal of the token).
    raise ApplicationError(
        "/srv/remote.git refused the agent's git credentials (push): fatal: Authentication failed for "
        "'https://git.example/remote.git/'",
        "PERMISSION_DENIED",
        "fatal: Authentication failed",
        type="PermissionDenied",
        non_retryable=True,
    )


def by(actor: str, delivery: str) -> CommandContext:
    """A command written in a comment by `actor`, in the delivery `delivery`."""
    return CommandContext(actor=actor, delivery_id=delivery, source=Source.COMMENT)


def waiting_at(phase: str) -> Callable[[Any], bool]:
    """A state check: the run waits at `phase`'s gate."""
    return lambda s: s.pending_gate == phase


def context_of(request: AgentCommand) -> dict[str, Any]:
    return dict(json.loads(request.context))


class FakeForge:
    """A recording Forge (app/forge.models.Forge) behind the real ForgeActivities: one pull request per head."""

    def __init__(self) -> None:
        self.drafts: list[PullRequestDraft] = []  # every open_or_update, in order
        self.pulls: dict[str, PullRequest] = {}  # head → its pull request
        self.refuse: ForgeError | None = None

    def open_or_update(self, draft: PullRequestDraft) -> Opened:
        self.drafts.append(draft)
        if self.refuse is not None:
            raise self.refuse
        existing = self.pulls.get(draft.head)
        number = existing.number if existing else len(self.pulls) + 1
        self.pulls[draft.head] = PullRequest(number, f"https://forge.test/acme/shop/pull/{number}", draft.head, "open")
        return Opened(self.pulls[draft.head], existing is None)

    def find(self, head: str) -> PullRequest | None:
        return self.pulls.get(head)

    def comment(self, number: int, body: str) -> None:
        raise AssertionError("the run does not comment on pull requests")
