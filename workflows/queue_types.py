"""Messages of the job system's workflows: queue monitor, agent health, job recovery, reconciliation.

Also the signal an orchestration receives when one of its jobs was recovered (`job_recovered`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

# Workflow and schedule ids, built here so every caller spells them the same way.
MONITOR_PREFIX = "queue-monitor-"
HEALTH_PREFIX = "agent-health-"
REVIVAL_ID = "agent-revival"
RECOVERY_ID = "job-recovery"
RECONCILE_ID = "issue-reconcile"


def nudge_workflow_id(key: str) -> str:
    """The id of the queue monitor a nudge starts: one per nudge key, so a retried nudge starts nothing new."""
    return f"queue-nudge-{key}"


def agent_schedule_ids(agent_id: str) -> tuple[str, str]:
    """The agent's queue-monitor and health-check schedule ids."""
    return f"{MONITOR_PREFIX}{agent_id}", f"{HEALTH_PREFIX}{agent_id}"


def job_workflow_id(job_id: str, recoveries: int = 0) -> str:
    """The id of a job's JobExecutionWorkflow: `job-<id>`, and `job-<id>-recovery-<n>` after its n-th recovery.

    Each run of a job has its own id, so starting it can refuse a duplicate outright (exactly once).
    """
    return f"job-{job_id}" if recoveries == 0 else f"job-{job_id}-recovery-{recoveries}"


def is_run_id(value: str) -> bool:
    """True for a Temporal run id (a UUID); Temporal refuses a signal addressed to anything else."""
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class MonitorStart:
    """Start a queue monitor now (a nudge); `key` names the cause, so the same nudge twice starts one monitor."""

    key: str
    reason: str
    agent_id: str | None = None


@dataclass(frozen=True)
class MonitorInput:
    """Look for work for one agent (a schedule tick), or for every idle agent (`agent_id=None`, a nudge)."""

    agent_id: str | None = None
    reason: str = "schedule"


@dataclass(frozen=True)
class MonitorResult:
    """Which agents were looked at and which jobs were started on them."""

    agents: list[str] = field(default_factory=list)
    started: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class HealthCheckInput:
    """Ping one agent (its schedule), or every offline agent to see whether one came back (`agent_id=None`)."""

    agent_id: str | None = None


@dataclass(frozen=True)
class AgentHealth:
    """One agent's check: answered or not, its status and failure count now, and what changed."""

    agent_id: str
    ok: bool
    status: str
    consecutive_failures: int
    went_offline: bool = False
    came_back: bool = False
    detail: str = ""


@dataclass(frozen=True)
class HealthCheckResult:
    """Every agent checked in this run."""

    checked: list[AgentHealth] = field(default_factory=list)


@dataclass(frozen=True)
class RecoveryInput:
    """Sweep in-progress jobs for orphans and stuck ones; with `lost_agent`, every job of that agent is lost."""

    lost_agent: str | None = None


@dataclass(frozen=True)
class RecoveryReport:
    """What the sweep did: jobs put back in the queue, jobs marked failed, and how many it examined."""

    examined: int = 0
    requeued: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ReconcileInput:
    """Look for labelled issues without an orchestration (the label comes from settings), and for merges with no
    webhook when the worker has a forge (FORGE set)."""

    forge: bool = False


@dataclass(frozen=True)
class ReconcileReport:
    """What the sweep found and started; `skipped` already had an orchestration (a race with a webhook) or was
    refused by the start policy; `commands` are the missed comment commands it sent (`KEY /verb`); `merges` the
    merged pull requests it told their issues of (`KEY #N`)."""

    found: list[str] = field(default_factory=list)
    started: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    merges: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class JobRecovered:
    """Signal `job_recovered` to the orchestration: its job was lost, and is back in the queue or failed."""

    job_id: str
    requeued: bool
    reason: str
    recoveries: int


@dataclass(frozen=True)
class JobRef:
    """Which orchestration a job belongs to, so whoever changed the job (an activity) can tell that run."""

    job_id: str
    issue_key: str
    project_key: str
    orchestration_run_id: str


@dataclass(frozen=True)
class Recovery:
    """What recovering a lost job did: `requeued` (at the head of its project), `failed`, or `skipped`."""

    job: JobRef
    outcome: str
    recoveries: int
    reason: str
