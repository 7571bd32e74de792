"""Running one job: wait for the issue's workspace, run the profile's command line, turn its end into a Result."""

from __future__ import annotations

import json
import logging
import sys
import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from app.agent_client import results
from app.agent_client.credentials import git_credential_env
from app.agent_client.proto import agent_pb2 as pb
from app.agent_client.protocol import ERROR_KINDS, branch_for
from app.agent_client.result_caps import cap_result
from app.agent_server import confinement
from app.agent_server.askpass import ensure_askpass
from app.agent_server.git_refusals import credentials_refused, refusal_message
from app.agent_server.handover import Handover, HandoverCancelled, RemoteError, remote_error_kind
from app.agent_server.jobs import MAX_LINE, Job
from app.agent_server.profiles import CommandSpec, Profile, expand
from app.agent_server.runner import RunOutcome, process_start_time, run_command
from app.agent_server.snapshot import home_of, snapshot
from app.agent_server.step_access import access_of, credentials_env
from app.agent_server.workspace import Workspaces

log = logging.getLogger(__name__)
# The typed result document's schema, handed to commands that write one (a coding agent can be shown it).
RESULT_SCHEMA = Path(results.__file__).with_name("result.schema.json")
TAIL = 60  # output lines kept for the summary and the command's `output`
WAIT_TICK = 0.5


@dataclass(frozen=True)
class AgentEnvironment:
    """What every job of this agent shares."""

    profile: Profile
    workspaces: Workspaces
    remote: str
    base_env: Mapping[str, str]  # passthrough variables plus the git identity
    askpass: Path
    confine: bool = False  # whether untrusted commands run confined (confinement.py; the host allows it)
    secret_files: tuple[Path, ...] = ()  # the agent's own secrets on disk, hidden from confined commands
    max_output: tuple[int, int] = (100_000, 50 * 1024 * 1024)  # lines, bytes per command (AGENT_MAX_OUTPUT_*)


def run_job(job: Job, request: pb.ExecuteRequest, agent: AgentEnvironment) -> None:
    """The body of a job's thread: always ends with a result, or (agent stopping) INTERRUPTED."""
    lock = agent.workspaces.lock(job.issue_key)
    try:
        if not _acquire(job, lock):
            result = pb.Result(success=False, error_kind=pb.ERROR_KIND_CANCELLED, error_message="cancelled")
        else:
            try:
                result = _run(job, request, agent)
            finally:
                lock.release()
    except Exception as err:  # an agent-side failure must end the job (typed), not leave callers waiting
        log.exception("agent.job-failed job=%s", job.job_id)
        result = pb.Result(success=False, error_kind=pb.ERROR_KIND_AGENT_CRASHED, error_message=f"agent error: {err}")
    if job.interrupting:
        job.set_state(pb.JOB_STATE_INTERRUPTED)
        return
    job.finish(cap_result(result, job.secrets))


def _acquire(job: Job, lock: threading.Lock) -> bool:
    if not lock.acquire(blocking=False):
        job.log(pb.LOG_LEVEL_INFO, f"waiting for the workspace of {job.issue_key} (another job is using it)", "queue")
        while not lock.acquire(timeout=WAIT_TICK):
            if job.cancel.is_set():
                return False
    if job.cancel.is_set():
        lock.release()
        return False
    return True


def _run(job: Job, request: pb.ExecuteRequest, agent: AgentEnvironment) -> pb.Result:
    name = job.command
    job.set_state(pb.JOB_STATE_RUNNING)
    spec = agent.profile.commands.get(name)
    if name == "cleanup":
        return _cleanup(job, request, agent, spec)
    job.progress("workspace", 5, f"preparing the workspace on {branch_for(job.issue_key)} from {agent.remote}")
    handover = Handover(job, agent.workspaces, agent.remote, _git_env(request, agent))
    try:
        start = handover.begin()
        landed = handover.landed(start)
        if landed is not None:
            return landed
        result = _work(job, request, agent, spec)
        return handover.finish(start, result) if result.success else result
    except HandoverCancelled:
        return pb.Result(success=False, error_kind=pb.ERROR_KIND_CANCELLED, error_message="cancelled")
    except RemoteError as err:  # retryable (the retry fetches again), unless the remote refused the credentials
        return pb.Result(success=False, error_kind=remote_error_kind(err), error_message=str(err))


def _work(job: Job, request: pb.ExecuteRequest, agent: AgentEnvironment, spec: CommandSpec | None) -> pb.Result:
    if spec is None:
        if job.command == "startExecution":
            workspace = agent.workspaces.path(job.issue_key)
            return pb.Result(success=True, summary="workspace ready", outputs={"workspace": str(workspace)})
        message = f"profile {agent.profile.name!r} has no command for {job.command}"
        return pb.Result(success=False, error_kind=pb.ERROR_KIND_BAD_REQUEST, error_message=message)
    return _result(job, spec, _command(job, request, agent, spec))


def _git_env(request: pb.ExecuteRequest, agent: AgentEnvironment) -> dict[str, str]:
    """What git's calls to the remote run with: the agent's environment and the job's git credentials (if any),
    never the coding tool's key."""
    askpass = ensure_askpass(agent.askpass.parent)  # as the agent wrote it, whatever a command did to it
    return {**agent.base_env, **git_credential_env(request.credentials, str(askpass))}


def _cleanup(job: Job, request: pb.ExecuteRequest, agent: AgentEnvironment, spec: CommandSpec | None) -> pb.Result:
    ran = None
    if spec is not None and agent.workspaces.path(job.issue_key).exists():
        ran = _command(job, request, agent, spec)
    released = agent.workspaces.release(job.issue_key)
    summary = "workspace released" if released else "no workspace to release"
    job.log(pb.LOG_LEVEL_INFO, summary, job.command)
    return _result(job, spec, ran) if spec is not None and ran is not None else pb.Result(success=True, summary=summary)


@dataclass
class _Ran:
    outcome: RunOutcome
    tail: deque[str]
    values: dict[str, str]
    result_file: Path


def _command(job: Job, request: pb.ExecuteRequest, agent: AgentEnvironment, spec: CommandSpec) -> _Ran:
    # Whatever a command writes into the shared repository's git config or hooks is put back afterwards, even by
    # a snapshot's command that went looking for the repository by its path.
    with agent.workspaces.guarded(job.issue_key) as changed:
        if access_of(job.command).snapshot:
            with snapshot(agent.workspaces, job.issue_key) as copy:
                job.log(pb.LOG_LEVEL_INFO, f"running on a detached snapshot of the worktree, {copy}", job.command)
                ran = _run_command(job, request, agent, spec, copy)
        else:
            ran = _run_command(job, request, agent, spec, agent.workspaces.path(job.issue_key))
    ensure_askpass(agent.askpass.parent)
    if changed:
        shown = "; ".join(changed[:TAIL])
        message = f"{job.command} changed the repository's git config or hooks; put back as they were: {shown}"
        job.log(pb.LOG_LEVEL_WARNING, message, job.command)
    return ran


def _run_command(
    job: Job, request: pb.ExecuteRequest, agent: AgentEnvironment, spec: CommandSpec, workspace: Path
) -> _Ran:
    values = _write_job_files(job, request, agent, workspace)
    argv = [expand(part, values) for part in spec.run]
    # Each command gets only the credentials its step needs (step_access.py): none for TEST and verification.
    env = {
        **agent.base_env,
        **_job_env(job, values),
        **credentials_env(job.command, request.credentials, str(agent.askpass)),
    }
    confined = _confined(job, agent, argv, workspace, Path(values["job_file"]).parent, env)
    stdin = f"{request.prompt}\n\n{request.context}\n" if spec.stdin == "prompt" else None
    tail: deque[str] = deque(maxlen=TAIL)
    job.max_lines, job.max_bytes = agent.max_output
    level = {"stdout": pb.LOG_LEVEL_INFO, "stderr": pb.LOG_LEVEL_WARNING}

    def on_line(stream: str, line: str) -> None:
        tail.append(line[:MAX_LINE])
        job.output(level[stream], line, job.command)

    def on_start(pid: int) -> None:
        job.set_state(pb.JOB_STATE_RUNNING, pid, process_start_time(pid))

    job.progress(job.command, 10, "running " + " ".join(argv[:4]))
    outcome = run_command(confined, workspace, env, stdin, spec.timeout.total_seconds(), on_line, on_start, job.cancel)
    job.set_state(pb.JOB_STATE_RUNNING)
    job.progress(job.command, 100, f"exit code {outcome.exit_code}")
    return _Ran(outcome, tail, values, Path(values["result_file"]))


def _confined(
    job: Job, agent: AgentEnvironment, argv: list[str], workspace: Path, files: Path, env: dict[str, str]
) -> list[str]:
    """The command line as it runs: confined (confinement.py) where the host allows it, for the untrusted steps
    (on their snapshot, with an empty HOME, the shared repository read-only) and the AI phases (in the worktree,
    the journals and askpass helper read-only); `env` gets the snapshot's HOME."""
    access = access_of(job.command)
    readonly, writable = [], [workspace, files]
    if access.snapshot:
        home = home_of(workspace)
        env["HOME"] = str(home)  # not the agent's: it may hold ssh keys, git credentials, a coding tool's login
        readonly, writable = _shared_paths(agent), [*writable, home]
    elif access.coder_key:
        readonly = [path for path in (agent.workspaces.root, Path(agent.remote)) if path.is_dir()]
    else:
        return argv  # the agent's own git steps (createPR's push holds the token and needs what git needs)
    if not agent.confine:
        return argv
    secrets = [*confinement.home_secrets(agent.base_env.get("HOME"), access.coder_key), *agent.secret_files]
    return confinement.wrap(argv, readonly, writable, secrets)


def _shared_paths(agent: AgentEnvironment) -> list[Path]:
    """What an untrusted command must not write: the repository and its git directory, every worktree, the
    journals and the askpass helper (AGENT_WORKSPACE_DIR), and a remote on this host."""
    paths = [agent.workspaces.repo, agent.workspaces.common_dir(), agent.workspaces.root, Path(agent.remote)]
    return [path for path in dict.fromkeys(paths) if path.is_dir()]


def _write_job_files(job: Job, request: pb.ExecuteRequest, agent: AgentEnvironment, workspace: Path) -> dict[str, str]:
    # Apart from the journal's own events and state, which a command (a confined one writes only here) must not
    # be able to rewrite: a restarted agent replays them.
    folder = job.journal.path / "command"
    real = workspace == agent.workspaces.path(job.issue_key)
    values = {
        "python": sys.executable,
        "workspace": str(workspace),
        # A snapshot's command is not told where the shared repository is: its own copy stands in for it.
        "repo": str(agent.workspaces.repo if real else workspace),
        "remote": agent.remote,
        "branch": branch_for(job.issue_key),
        "issue_key": job.issue_key,
        "job_id": job.job_id,
        "command": job.command,
        "phase": request.phase,
        "job_file": str(folder / "job.json"),
        "prompt_file": str(folder / "prompt.txt"),
        "context_file": str(folder / "context.json"),
        "result_file": str(folder / "result.json"),
        "result_schema": str(RESULT_SCHEMA),
    }
    folder.mkdir(parents=True, exist_ok=True)
    Path(values["result_file"]).unlink(missing_ok=True)
    Path(values["prompt_file"]).write_text(request.prompt)
    Path(values["context_file"]).write_text(request.context or "{}")
    context = json.loads(request.context) if request.context else {}
    # Everything but the credentials: those reach the command only through its environment.
    job_file = {**values, "attempt": request.attempt, "roles": list(request.roles), "prompt": request.prompt}
    Path(values["job_file"]).write_text(json.dumps({**job_file, "context": context}))
    return values


def _job_env(job: Job, values: Mapping[str, str]) -> dict[str, str]:
    return {
        "PYTHONUNBUFFERED": "1",  # Python commands stream their lines as they print them
        "AGENT_JOB_ID": job.job_id,
        "AGENT_ISSUE_KEY": job.issue_key,
        "AGENT_COMMAND": job.command,
        "AGENT_PHASE": values["phase"],
        "AGENT_BRANCH": values["branch"],
        "AGENT_WORKSPACE": values["workspace"],
        "AGENT_RESULT_FILE": values["result_file"],
        "AGENT_RESULT_SCHEMA": values["result_schema"],
    }


def _result(job: Job, spec: CommandSpec, ran: _Ran) -> pb.Result:
    outcome = ran.outcome
    if outcome.cancelled:
        return pb.Result(success=False, error_kind=pb.ERROR_KIND_CANCELLED, error_message="cancelled")
    if outcome.timed_out:
        message = f"{job.command} ran longer than {spec.timeout} and was stopped"
        return pb.Result(success=False, error_kind=pb.ERROR_KIND_TIMEOUT, error_message=message)
    if outcome.exit_code is None:
        return pb.Result(success=False, error_kind=pb.ERROR_KIND_AGENT_CRASHED, error_message=outcome.error)
    reported = _read_result_file(ran.result_file)
    last = next((line for line in reversed(ran.tail) if line.strip()), "")
    given = reported.get("outputs")
    outputs = {str(k): str(v) for k, v in given.items()} if isinstance(given, dict) else {}
    if spec.output and spec.output not in outputs:
        outputs[spec.output] = "\n".join(ran.tail)
    kind = str(reported.get("error_kind") or "")
    # The typed result travels as the command wrote it: the orchestrator's activity checks it against the schema.
    typed = json.dumps(reported["result"]) if "result" in reported else ""
    if outcome.exit_code == 0 and kind not in ERROR_KINDS:
        outputs.update({key: expand(template, ran.values) for key, template in spec.outputs.items()})
        summary = str(reported.get("summary") or expand(spec.summary, ran.values) or last)
        return pb.Result(success=True, summary=summary, outputs=outputs, result=typed)
    message = f"{job.command} exited with code {outcome.exit_code}: {last}"
    error_kind = ERROR_KINDS.get(kind, ERROR_KINDS[spec.failure])
    refused = _git_refusal(spec, ran) if error_kind == pb.ERROR_KIND_AGENT_CRASHED else None
    if refused is not None:
        error_kind, message = pb.ERROR_KIND_PERMISSION_DENIED, f"{job.command}: {refused}"
    return pb.Result(
        success=False,
        summary=str(reported.get("summary") or last),
        outputs=outputs,
        error_kind=error_kind,
        error_message=message,
        result=typed,
    )


def _git_refusal(spec: CommandSpec, ran: _Ran) -> str | None:
    """For a command that is git itself (createPR's push): its refusal of the credentials, if that is why it failed."""
    if Path(spec.run[0]).name != "git":
        return None  # a coding tool's output may quote git's words about something else
    line = credentials_refused(ran.tail)
    if line is None:
        return None
    return refusal_message(ran.values["remote"], spec.run[1] if len(spec.run) > 1 else "git", line)


def _read_result_file(path: Path) -> dict[str, object]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
