"""Agent health checks (one Schedule per agent, plus one that probes offline agents to see them come back).

A ping is the gRPC health check with a 5 s deadline. Success resets the agent's failure count; the third failure
in a row (setting) marks it offline, pauses its queue-monitor and health-check schedules (the seed's 12.5) and
recovers the jobs it was running. An offline agent that answers again is online, its schedules are unpaused,
and the queue is nudged so work resumes.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

from workflows.nudge import nudge_queue
from workflows.policies import DB_RETRY, SHORT
from workflows.queue_types import AgentHealth, HealthCheckInput, HealthCheckResult, RecoveryInput
from workflows.recovery import TEMPORAL_RETRY, JobRecoveryWorkflow

with workflow.unsafe.imports_passed_through():
    from activities.agent_health import AgentHealthActivities, AgentQuery, HealthObservation, HealthProbe
    from activities.temporal_ops import AgentSchedulesInput, TemporalActivities

# The ping answers within its own 5 s deadline; one attempt, because a retry would hide the failure we count.
PING_TIMEOUT = timedelta(seconds=20)
NO_RETRY = RetryPolicy(maximum_attempts=1)


@workflow.defn
class AgentHealthCheckWorkflow:
    """Pings one agent (`agent_id`), or every offline agent (`agent_id=None`), and acts on what changed."""

    @workflow.run
    async def run(self, input: HealthCheckInput) -> HealthCheckResult:
        """Check, record, and pause/unpause schedules on a transition."""
        if input.agent_id is not None:
            targets = [input.agent_id]
        else:
            offline = await workflow.execute_activity_method(
                AgentHealthActivities.list_agents,
                AgentQuery(status="offline"),
                start_to_close_timeout=SHORT,
                retry_policy=DB_RETRY,
            )
            targets = [agent.agent_id for agent in offline]
        return HealthCheckResult([await self._check(agent_id) for agent_id in targets])

    async def _check(self, agent_id: str) -> AgentHealth:
        answer = await workflow.execute_activity_method(
            AgentHealthActivities.check_agent_health,
            HealthProbe(agent_id),
            start_to_close_timeout=PING_TIMEOUT,
            retry_policy=NO_RETRY,
        )
        change = await workflow.execute_activity_method(
            AgentHealthActivities.record_agent_health,
            HealthObservation(agent_id, answer.ok, answer.detail, workflow.now()),
            start_to_close_timeout=SHORT,
            retry_policy=DB_RETRY,
        )
        if change.went_offline:
            await self._pause(agent_id, True, f"offline after {change.consecutive_failures} failed health checks")
            await workflow.execute_child_workflow(
                JobRecoveryWorkflow.run,
                RecoveryInput(lost_agent=agent_id),
                id=f"job-recovery-{agent_id}-{workflow.info().run_id}",
            )
        if change.came_back:
            await self._pause(agent_id, False, "answering health checks again")
            await nudge_queue("agent back online", f"agent-back-{agent_id}-{workflow.info().run_id}", agent_id)
        return AgentHealth(
            agent_id,
            answer.ok,
            change.status,
            change.consecutive_failures,
            change.went_offline,
            change.came_back,
            answer.detail,
        )

    async def _pause(self, agent_id: str, paused: bool, note: str) -> None:
        await workflow.execute_activity_method(
            TemporalActivities.set_agent_schedules_paused,
            AgentSchedulesInput(agent_id, paused, note),
            start_to_close_timeout=SHORT,
            retry_policy=TEMPORAL_RETRY,
        )
