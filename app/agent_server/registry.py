"""The agent's jobs by id: start or re-attach (never running the work twice), cancel, and recover after a restart."""

from __future__ import annotations

import logging
import shutil
import signal
import threading
import time
from collections import OrderedDict
from pathlib import Path

from app.agent_client.credentials import secret_values
from app.agent_client.proto import agent_pb2 as pb
from app.agent_client.protocol import COMMAND_NAMES
from app.agent_server.execution import AgentEnvironment, run_job
from app.agent_server.jobs import ACTIVE, Job, Journal, journal_dir
from app.agent_server.runner import kill_group, process_start_time

log = logging.getLogger(__name__)
KEEP_IN_MEMORY = 256  # ended jobs kept in memory; older ones are re-read from their journal
RERUNNABLE = frozenset({pb.ERROR_KIND_AGENT_CRASHED, pb.ERROR_KIND_TIMEOUT})
JOURNAL_RETENTION = 14 * 86400  # seconds an ended job's journal is kept
DRAIN_TICK = 0.2  # seconds between looks at the running jobs while draining


class JobConflict(ValueError):
    """The job id is already taken by different work."""


class Draining(RuntimeError):
    """The agent is shutting down: it takes no new work (the caller should go to another agent)."""


class JobRegistry:
    """Every job of this agent, in memory and in journals under `root`."""

    def __init__(self, root: Path, agent: AgentEnvironment, own_secrets: tuple[str, ...] = ()) -> None:
        self.root = root
        self.agent = agent
        self.own_secrets = own_secrets
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._lock = threading.Lock()
        self._draining = False

    def attach(self, request: pb.ExecuteRequest) -> Job:
        """The job for this request: a new one started, a live one followed, an ended one replayed or rerun."""
        command = COMMAND_NAMES[request.command]
        with self._lock:
            job = self._find(request.job_id)
            if job is None:
                if self._draining:
                    raise Draining(f"agent shutting down: not starting {command} for {request.issue_key}")
                job = Job(request.job_id, command, request.issue_key, Journal(journal_dir(self.root, request.job_id)))
                self._remember(job)
            elif job.command != command or job.issue_key != request.issue_key:
                raise JobConflict(
                    f"job {request.job_id} is {job.command} for {job.issue_key}, not {command} for {request.issue_key}"
                )
            elif job.state in ACTIVE or not self._rerun(job, request):
                return job  # following a running job, or replaying an ended one, goes on while draining
            if self._draining:
                raise Draining(f"agent shutting down: not starting {command} for {request.issue_key}")
            self._start(job, request)
            return job

    def _rerun(self, job: Job, request: pb.ExecuteRequest) -> bool:
        if job.state == pb.JOB_STATE_INTERRUPTED:
            return True  # the agent stopped mid-run: the work never finished, and its processes are gone
        result = job.final_result()
        return request.rerun_failed and result is not None and result.error_kind in RERUNNABLE

    def _start(self, job: Job, request: pb.ExecuteRequest) -> None:
        rerun = bool(job.events)
        job.begin_run((*secret_values(request.credentials), *self.own_secrets))
        if rerun:
            job.log(pb.LOG_LEVEL_WARNING, f"running {job.command} again (attempt {request.attempt})", "agent")
        threading.Thread(target=run_job, args=(job, request, self.agent), name=f"job-{job.job_id}", daemon=True).start()

    def get(self, job_id: str) -> Job | None:
        """A job by id, from memory or its journal."""
        with self._lock:
            return self._find(job_id)

    def cancel(self, job_id: str, wait: float = 20.0) -> int:
        """Stop a job (killing its processes) and return its state afterwards."""
        job = self.get(job_id)
        if job is None:
            return pb.JOB_STATE_NOT_FOUND
        if job.state in ACTIVE:
            job.cancel.set()
            job.wait_ended(wait)
        return job.state

    def running(self) -> list[str]:
        """Ids of the jobs waiting or running now."""
        with self._lock:
            return [job.job_id for job in self._jobs.values() if job.state in ACTIVE]

    def drain(self, grace: float, hurry: threading.Event) -> list[str]:
        """Take no new jobs, and wait up to `grace` seconds (or until `hurry` is set) for the running ones to end;
        the ids of those still running."""
        with self._lock:
            self._draining = True
        deadline = time.monotonic() + grace
        while self.running() and time.monotonic() < deadline and not hurry.wait(DRAIN_TICK):
            pass
        return self.running()

    def interrupt_all(self, wait: float = 10.0) -> None:
        """Stop every running job without a result (the agent is shutting down): the next Execute reruns it."""
        with self._lock:
            live = [job for job in self._jobs.values() if job.state in ACTIVE]
        for job in live:
            job.interrupting = True
            job.cancel.set()
        deadline = time.monotonic() + wait
        for job in live:
            job.wait_ended(max(0.0, deadline - time.monotonic()))

    def recover(self) -> list[str]:
        """After a restart: kill what jobs of the previous agent process left running, and mark them INTERRUPTED."""
        recovered = []
        self.root.mkdir(parents=True, exist_ok=True)
        for folder in sorted(self.root.iterdir()):
            loaded = Journal(folder).load()
            if loaded is None:
                continue
            events, state = loaded
            if state["state"] not in ("JOB_STATE_WAITING", "JOB_STATE_RUNNING"):
                self._expire(folder)
                continue
            pid, started = state.get("pid"), state.get("pid_start")
            if pid and started and process_start_time(pid) == started:
                kill_group(pid, signal.SIGKILL)
                log.warning("agent.killed-leftover job=%s pid=%s", state["job_id"], pid)
            job = Job.restore(Journal(folder), events, state)
            job.set_state(pb.JOB_STATE_INTERRUPTED)
            recovered.append(job.job_id)
        return recovered

    def _expire(self, folder: Path) -> None:
        if time.time() - (folder / "state.json").stat().st_mtime > JOURNAL_RETENTION:
            shutil.rmtree(folder, ignore_errors=True)

    def _find(self, job_id: str) -> Job | None:
        job = self._jobs.get(job_id)
        if job is not None:
            self._jobs.move_to_end(job_id)
            return job
        journal = Journal(journal_dir(self.root, job_id))
        loaded = journal.load()
        if loaded is None:
            return None
        job = Job.restore(journal, *loaded)
        self._remember(job)
        return job

    def _remember(self, job: Job) -> None:
        self._jobs[job.job_id] = job
        while len(self._jobs) > KEEP_IN_MEMORY:
            oldest = next(iter(self._jobs.values()))
            if oldest.state in ACTIVE:
                break
            self._jobs.popitem(last=False)
