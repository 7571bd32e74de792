"""The orchestration's state: one dataclass the workflow owns, the query returns, and checkpoints save."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from workflows.messages import RunStatus, Source
from workflows.results import PhaseResult

# Versions of one phase's work kept in the state (each may be a whole plan; the state is queried and checkpointed).
MAX_VERSIONS = 5


class Outcome(StrEnum):
    """How a phase stands."""

    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    REJECTED = "rejected"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"


class Cause(StrEnum):
    """The one-word class of a failure, as the issue comment reports it."""

    INFRASTRUCTURE = "infrastructure"
    AGENT = "agent"
    TESTS = "tests"
    PERMISSION = "permission"
    AUTHENTICATION = "authentication"
    JIRA = "Jira"
    TIMEOUT = "timeout"


@dataclass
class Approval:
    """A decision at a gate: who, when, and the notes or feedback given."""

    phase: str
    decision: str
    actor: str
    at: str
    text: str = ""
    source: Source = Source.COMMENT  # how the decision came: a comment or transition names a Jira account


@dataclass
class OutputVersion:
    """One version of a phase's work (v1, then one more after each rejection), and the feedback that asked for it."""

    version: int
    text: str
    at: str
    feedback: str = ""
    feedback_by: str = ""
    feedback_via: Source | None = None


@dataclass
class PhaseRecord:
    """One phase's history: attempts, times, outcome, who approved, its last summary."""

    phase: str
    outcome: Outcome = Outcome.PENDING
    attempts: int = 0
    started_at: str | None = None
    finished_at: str | None = None
    approved_by: str | None = None
    approved_via: Source | None = None
    summary: str = ""
    job_ids: list[str] = field(default_factory=list)


@dataclass
class Failure:
    """Why the run stopped: phase, cause class, one line, and the agent's last output."""

    phase: str | None
    cause: Cause
    message: str
    last_output: str = ""


@dataclass
class OrchestrationState:
    """Everything the run knows; returned by the `get_status` query."""

    issue_key: str
    project_key: str
    workflow_id: str
    run_id: str
    started_by: str | None
    started_at: str
    status: RunStatus = RunStatus.STARTING
    current_phase: str | None = None
    step: str = "starting"
    pending_gate: str | None = None
    paused: bool = False
    phases: list[PhaseRecord] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)
    # Each phase's typed result (the last attempt's); a phase whose agent reported only text has none ("untyped").
    results: dict[str, PhaseResult] = field(default_factory=dict)
    # Every version of each gated phase's work, oldest first (the last few; see MAX_VERSIONS).
    versions: dict[str, list[OutputVersion]] = field(default_factory=dict)
    approvals: list[Approval] = field(default_factory=list)
    fix_rounds: int = 0
    retries: int = 0  # `/retry`s taken (RunLimits.max_retries caps them)
    refusals_ignored: int = 0  # refused commands not answered: the person was answered a moment before
    pr_url: str | None = None
    failure: Failure | None = None
    finished_at: str | None = None
    source: Source = Source.LABEL

    def add_version(self, phase: str, text: str, at: str, rejection: Approval | None) -> OutputVersion:
        """Keep `text` as the phase's next version, naming the rejection that asked for it."""
        kept = self.versions.setdefault(phase, [])
        number = kept[-1].version + 1 if kept else 1
        version = OutputVersion(number, text, at)
        if rejection is not None:
            version.feedback, version.feedback_by = rejection.text, rejection.actor
            version.feedback_via = rejection.source
        kept.append(version)
        del kept[:-MAX_VERSIONS]
        return version

    def record(self, phase: str) -> PhaseRecord:
        """The history entry of `phase`."""
        return next(p for p in self.phases if p.phase == phase)


@dataclass(frozen=True)
class OrchestrationResult:
    """What the run ended with."""

    status: RunStatus
    pr_url: str | None = None
    failure: Failure | None = None
