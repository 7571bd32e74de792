"""Gates that wait for a person: which runs wait at a gate, since when, until when, and who may answer them.

"Who may answer" is the one approver rule of Jira comments (app/jira_gateway/approvers.py `may_steer`), asked
with the person's Jira account id, so the console's *Needs me* lists exactly the gates their `/approve` would pass.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.jira_gateway.models import ApproverDecision
from app.store.models import Orchestration
from app.temporal import control
from app.temporal.control import NoRun
from app.temporal.gateway import TemporalGateway
from workflows.messages import RunStatus

log = logging.getLogger(__name__)

# (issue key, account id, who started the run, verb) → may they? The Jira gateway's may_steer, or a test's fake.
MaySteer = Callable[[str, str, str | None, str], ApproverDecision]
# The database row is written at phase ends, not when the gate opens: every live run is a candidate, and its
# workflow state says whether it waits.
ENDED = tuple(status.value for status in (RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELLED))
MAX_GATES = 200  # runs read per page view; each is one Temporal query


@dataclass(frozen=True)
class WaitingGate:
    """A run waiting at a gate: the phase, when its work finished (the wait began) and when the gate times out."""

    issue_key: str
    phase: str
    started_by: str | None
    waiting_since: datetime | None
    times_out_at: datetime | None


class GateService:
    """Reads waiting gates from the runs (database for candidates, the workflow's state for the truth)."""

    def __init__(
        self,
        settings: Settings,
        session_factory: sessionmaker[Session],
        temporal: TemporalGateway,
        may_steer: MaySteer,
    ) -> None:
        self.settings = settings
        self.session_factory = session_factory
        self.temporal = temporal
        self.may_steer = may_steer

    def waiting(self) -> list[WaitingGate]:
        """Every gate waiting now, oldest first (a failed run waits for /retry, not at a gate)."""
        with self.session_factory() as session:
            query = (
                select(Orchestration.issue_key)
                .where(Orchestration.status.not_in(ENDED))
                .order_by(Orchestration.updated_at)
                .limit(MAX_GATES)
            )
            keys = list(dict.fromkeys(session.scalars(query)))
        gates = [gate for key in keys if (gate := self._gate(key)) is not None]
        return sorted(gates, key=lambda gate: (gate.waiting_since is None, str(gate.waiting_since or "")))

    def waiting_for(self, account_id: str) -> list[WaitingGate]:
        """The waiting gates this person may approve (the approver rule of Jira comments), oldest first."""
        return [gate for gate in self.waiting() if self._may_approve(gate, account_id)]

    def _may_approve(self, gate: WaitingGate, account_id: str) -> bool:
        try:
            return self.may_steer(gate.issue_key, account_id, gate.started_by, "approve").allowed
        except Exception:  # Jira down or refusing: leave the gate out rather than fail the whole page
            log.warning("console.approver-check-failed issue=%s", gate.issue_key, exc_info=True)
            return False

    def _gate(self, issue_key: str) -> WaitingGate | None:
        try:
            view = self.temporal.call(lambda client: control.read(client, issue_key))
        except NoRun:
            return None
        state = view.state
        if state.pending_gate is None:
            return None
        finished = state.record(state.pending_gate).finished_at
        since = datetime.fromisoformat(finished) if finished else None
        timeout: timedelta = self.settings.orchestrator.gate_timeout
        until = since + timeout if since and timeout.total_seconds() > 0 else None
        return WaitingGate(issue_key, state.pending_gate, state.started_by, since, until)
