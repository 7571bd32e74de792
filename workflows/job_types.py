"""What the orchestration hands to one agent job (a JobExecutionWorkflow) and what comes back."""

from __future__ import annotations

from dataclasses import dataclass, field

from workflows.results import PhaseResult


class ErrorKind:
    """Why a job did not succeed, as agents report it (the workflow branches on TESTS_FAILED)."""

    TESTS_FAILED = "TESTS_FAILED"
    AGENT_CRASHED = "AGENT_CRASHED"
    BAD_REQUEST = "BAD_REQUEST"
    CANCELLED = "CANCELLED"
    TIMEOUT = "TIMEOUT"
    PERMISSION_DENIED = "PERMISSION_DENIED"  # the remote or a service refused the agent's credentials
    VERIFICATION_FAILED = "VERIFICATION_FAILED"
    INVALID_RESULT = "INVALID_RESULT"  # the agent's typed result did not meet the result schema


@dataclass(frozen=True)
class JobInput:
    """One phase attempt's agent job."""

    job_id: str
    orchestration_run_id: str
    issue_key: str
    project_key: str
    phase: str
    attempt: int
    roles: list[str]
    prompt: str
    context: str
    queue_kind: str = "backlog"
    pushes_branch: bool = False
    verifies: bool = False
    agent_start_to_close_seconds: int = 2 * 3600
    agent_heartbeat_seconds: int = 5 * 60
    # Queued by a lean run (workflows/versions.py): every patched path is taken without asking, and its end hands
    # the next job out in one activity (jobs from before started a queue monitor workflow).
    lean: bool = False


@dataclass(frozen=True)
class JobResult:
    """How the job ended: success, a summary, outputs (test report, plan, PR URL...), or a typed error."""

    job_id: str
    success: bool
    summary: str = ""
    outputs: dict[str, str] = field(default_factory=dict)
    error_kind: str | None = None
    error: str | None = None
    pr_url: str | None = None
    last_output: str = ""
    result: PhaseResult | None = None  # the phase's typed result (None: the agent reported only text)
