"""What every part of `OrchestrationWorkflow` shares, declared once: its input, its queryable state, what it keeps
besides (one `RunMemory`), its reporter and its lock.

The workflow's parts (steering handlers, outcomes, queued jobs, job signals) are mixins over `RunBase`, so each
reads the same attributes instead of re-declaring them; `OrchestrationWorkflow.__init__` sets them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from workflows.job_types import JobResult
from workflows.messages import CancelInput, OrchestrationInput, RetryInput, Source
from workflows.reporter import JiraReporter
from workflows.state import OrchestrationState


@dataclass
class Decision:
    """What a person decided at a gate."""

    verb: str
    actor: str
    text: str
    source: Source = Source.COMMENT


@dataclass
class RunMemory:
    """What the run keeps besides its queryable state: people's pending requests, job results, deliveries seen."""

    links: dict[str, str] = field(default_factory=dict)  # name → URL, for the status comment
    issue_text: str = ""  # the issue as read at the start, for the agents' context
    decision: Decision | None = None  # the answer at the waiting gate
    cancel_request: CancelInput | None = None
    retry_request: RetryInput | None = None
    job_results: dict[str, JobResult] = field(default_factory=dict)  # job id → its end, from `job_finished`
    feedback: dict[str, str] = field(default_factory=dict)  # phase → the last rejection's feedback
    seen: list[str] = field(default_factory=list)  # the last deliveries acted on (a repeat is ignored)
    answers: int = 0  # commands answered, for the answers' event keys
    board: str | None = None  # the board label the issue carries now (outcomes.py `_board`)
    refused: dict[str, str] = field(default_factory=dict)  # actor → when a refusal was last answered (ISO time)


@dataclass
class ContinuedRun:
    """What a run carries into the run it continues as (continue-as-new at a phase boundary, issue 13 finding 9).

    The keys stay the first run's, so the status comment is edited in place, comments keep their event keys (none
    is posted twice) and notifications their keys; `next_phase` is the index in PHASE_ORDER where the phases go on.
    """

    state: OrchestrationState
    memory: RunMemory
    next_phase: int
    report_key: str  # JiraReporter's run key
    notify_key: str  # Notifier's run key
    refused_writes: list[str] = field(default_factory=list)  # JiraReporter.refused: each said once per run
    status_comment_id: str = ""  # JiraReporter.status_comment_id (lean runs)


class RunBase:
    """The attributes every part of the workflow reads; `OrchestrationWorkflow.__init__` sets them."""

    input: OrchestrationInput
    state: OrchestrationState
    memory: RunMemory
    reporter: JiraReporter
    lock: asyncio.Lock
    _report: Callable[[], None]  # OrchestrationWorkflow's: queue the status comment's new body
