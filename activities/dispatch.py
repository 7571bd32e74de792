"""Handing queued jobs to idle agents in one activity: what a queue monitor did in four (list idle agents, claim,
log the claim, start the job workflow), and the queueing of a new job with it.

A workflow that queues a job or ends one calls this instead of starting a queue monitor: one action instead of
about five, and the next job starts a workflow task sooner. The claim is the same one transaction (the seed's
getNextJob), so concurrent dispatches, monitors and schedule ticks still give each agent one job and each project
one running job. A claimed job whose workflow cannot be started after START_TRIES stays in progress without a
workflow, as before: the recovery sweep puts it back in the queue.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, replace

from temporalio import activity

from activities.jobs import JobActivities, NewJob, insert_job
from activities.queue import AgentRef, ClaimedJob, IdleAgentsQuery, JobLogEntry, QueueActivities
from activities.temporal_ops import TemporalCalls
from app.jobqueue import edits
from workflows.job_types import JobInput

# A failed start is tried again this many times, a second more apart each time, inside the activity (it holds the
# claim: a retry of the whole activity would find the agent busy with the job it claimed).
START_TRIES = 4
# How often a dispatch heartbeats while it works, whatever step it waits in (the workflows' heartbeat timeout for
# these activities is DISPATCH_HEARTBEAT, 15 s: a worker lost mid-dispatch is noticed then, not after SHORT's 2 min).
BEAT_EVERY = 5.0


@dataclass(frozen=True)
class DispatchInput:
    """Give the next job to `agent_id`, or to every idle agent when None; `reason` goes into the job's log."""

    reason: str
    agent_id: str | None = None


@dataclass(frozen=True)
class Dispatched:
    """Which agents were looked at and which jobs started."""

    agents: list[str]
    started: list[str]


@dataclass(frozen=True)
class QueueJobInput:
    """A new phase job: create its row (prompt and context stored once), queue it, and dispatch.

    `job` is what its job workflow runs, with the prompt and context left empty (they are taken from the row)."""

    new: NewJob
    job: JobInput


class DispatchActivities:
    """Queue and dispatch through the database's queue and the worker's Temporal client."""

    def __init__(
        self, jobs: JobActivities, queue: QueueActivities, calls: TemporalCalls, retry_pause: float = 1.0
    ) -> None:
        self.jobs = jobs
        self.queue = queue
        self.calls = calls
        self.retry_pause = retry_pause  # seconds × the attempt number between tries of a start

    @activity.defn
    async def queue_job(self, request: QueueJobInput) -> Dispatched:
        """Create the job with its spec in one transaction (once: it is in the queue from its `created_at` on),
        then start what idle agents may run."""
        async with _heartbeating():
            await asyncio.to_thread(self._create_queued, request)
            return await self._dispatch(DispatchInput(f"{request.job.job_id} queued"))

    def _create_queued(self, request: QueueJobInput) -> None:
        # The spec is what the job workflow will run: the job with its prompt and context (the activity's input
        # carries them once, in `new`).
        spec = asdict(replace(request.job, prompt=request.new.prompt, context=request.new.context))
        with self.jobs.session_factory.begin() as session:
            insert_job(session, request.new)
            edits.enqueue(session, request.job.job_id, json.dumps(spec, sort_keys=True))

    @activity.defn
    async def dispatch_jobs(self, request: DispatchInput) -> Dispatched:
        """Claim the next job for the agent (or each idle agent) and start its job workflow."""
        async with _heartbeating():
            return await self._dispatch(request)

    async def _dispatch(self, request: DispatchInput) -> Dispatched:
        if request.agent_id is not None:
            agents = [request.agent_id]
        else:
            agents = await asyncio.to_thread(self.queue.list_idle_agents, IdleAgentsQuery())
        started = []
        for agent_id in agents:
            claimed = await asyncio.to_thread(self.queue.claim_next_job, AgentRef(agent_id))
            if claimed is None:
                continue
            message = f"claimed by agent {claimed.agent_id} ({request.reason})"
            await asyncio.to_thread(self.queue.log_to_job, JobLogEntry(claimed.job.job_id, "info", message, "queue"))
            if await self._start(claimed):
                started.append(claimed.job.job_id)
        return Dispatched(agents, started)

    async def _start(self, claimed: ClaimedJob) -> bool:
        task_queue = activity.info().task_queue
        for attempt in range(1, START_TRIES + 1):
            try:
                await self.calls.start_job(claimed, task_queue)
                return True
            except Exception as err:
                activity.logger.warning(
                    "queue.start-failed job=%s attempt=%d error=%s", claimed.job.job_id, attempt, err
                )
                if attempt < START_TRIES:
                    await asyncio.sleep(attempt * self.retry_pause)
        return False


@asynccontextmanager
async def _heartbeating() -> AsyncIterator[None]:
    """Heartbeat every BEAT_EVERY s while the block runs (a database wait or a start may take longer than that)."""

    async def beat() -> None:
        while True:  # a dispatch done within BEAT_EVERY records none (a recorded heartbeat is a billed action)
            await asyncio.sleep(BEAT_EVERY)
            activity.heartbeat()

    beating = asyncio.create_task(beat())
    try:
        yield
    finally:
        beating.cancel()
