"""The contract between the job workflow and the agent activities: names and the dataclasses they exchange."""

from __future__ import annotations

from dataclasses import dataclass, field

from workflows.results import PhaseResult

# Activity names (the agent activities register under these; the job workflow calls them by these).
EXECUTE_AGENT_JOB = "execute_agent_job"
GET_CREDENTIALS = "get_credentials"


@dataclass(frozen=True)
class CredentialsRequest:
    """Which job needs credentials (git and the coding tool's)."""

    job_id: str
    issue_key: str


@dataclass(frozen=True)
class CredentialRefs:
    """References the agent resolves on its side: no secret value travels through workflow history."""

    refs: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class AgentCommand:
    """One command for one agent: a phase (EXPLORE…DOCUMENT) or startExecution/runVerification/createPR/cleanup."""

    job_id: str
    attempt: int
    agent_address: str
    command: str
    issue_key: str
    phase: str
    roles: list[str]
    prompt: str
    context: str
    credential_refs: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class AgentOutcome:
    """The agent's final result: success, summary, outputs (report, test_report, pr_url...), or a typed error."""

    success: bool
    summary: str = ""
    outputs: dict[str, str] = field(default_factory=dict)
    error_kind: str | None = None
    error: str | None = None
    last_output: str = ""
    result: PhaseResult | None = None  # the phase's typed result; None when the agent reported only text


# Added with the agent activities (activities/agent.py).
