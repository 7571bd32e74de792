"""The remote's branch jira/<KEY> is where one job hands an issue's work to the next, whichever agent runs it.

Agents on different hosts each have their own clone (AGENT_REPO) of one remote (AGENT_REMOTE), and the queue
may give consecutive jobs of an issue to different agents. So before a job the agent fetches the branch from
the remote and makes the issue's worktree a clean checkout of the remote's tip; after a job that succeeded it
pushes the branch if the remote lacks its tip. The rules, and why:

- **The remote wins.** Local commits the remote lacks belong to a run that never reported success, because
  success is reported only once the push has landed: an agent killed mid-job, a job that failed, or a push the
  remote refused. That job runs again (here or on another agent) from the remote's tip. Keeping those commits
  would do its work twice, or bring back commits someone removed from the remote. So they are dropped from the
  branch (its reflog still holds them), and the job's log names them.
- **Only a job that succeeded pushes its work.** A failed job is retried from the commit the failed run started
  from, so the retry is clean instead of being piled on a failed attempt.
- **Never force.** The job started from the remote's tip, so its push is a fast-forward. The remote refuses it
  only if the branch moved meanwhile (someone else pushed) or the job rewrote commits the remote already had.
  Either way nothing on the remote is lost: the job fails with a typed "push rejected" (AGENT_CRASHED, which
  the dispatch activity retries), and the retry starts from the remote's new tip. A remote that refuses the
  job's credentials (git_refusals.py) fails it with PERMISSION_DENIED instead: a retry would be refused again.
- **Write-ahead.** Before the push, the job's result and the commit it pushes are written to its journal. If
  the agent dies after the push landed but before the result went out, the job's rerun on this agent finds
  that commit on the remote and returns the recorded result instead of doing the work again.

When the remote lacks the branch, a job starts from the local branch, else from the remote's default branch
(so agents on different clones start an issue from the same base), else from the repository's HEAD; and it
publishes that start on the remote before its command runs, so even a rerun of the issue's very first job
starts from the remote. Git's calls to the remote use the job's credentials the way createPR's `git push` does
(the askpass helper reads the token from the environment); each has a timeout, and its process group is killed
when the job is cancelled.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from google.protobuf import json_format

from app.agent_client.proto import agent_pb2 as pb
from app.agent_client.protocol import branch_for
from app.agent_server.git_refusals import credentials_refused, refusal_message
from app.agent_server.jobs import Job
from app.agent_server.runner import process_start_time, run_command
from app.agent_server.workspace import WorkspaceError, Workspaces, git, git_config_env

NETWORK_TIMEOUT = 300.0  # seconds for one git call that talks to the remote (ls-remote, fetch, push)
STAGE = "workspace"
SHOWN = 20  # dropped commits and discarded files named in the log
RECORD = "handover.json"  # in the job's journal folder: the pushed commit and the result, written before the push


class RemoteError(WorkspaceError):
    """The remote could not be read or written (unreachable, refused our credentials, too slow)."""


class CredentialsRefused(RemoteError):
    """The remote refused the job's git credentials (wrong or expired token, no access): a retry cannot help."""


class PushRejected(RemoteError):
    """The remote refused the push; nothing on it was overwritten."""


class HandoverCancelled(WorkspaceError):
    """The job was cancelled (or the agent is stopping) during a git call to the remote."""


class Handover:
    """One job's side of the hand-over: `begin` before its command, `finish` after it."""

    def __init__(self, job: Job, workspaces: Workspaces, remote: str, env: Mapping[str, str]) -> None:
        self.job = job
        self.workspaces = workspaces
        self.remote = remote
        # Never wait for someone to type a password: no terminal prompt, only the askpass helper (if any). Never
        # run the repository's hooks: these calls hold the git token, and a command may have written the hooks.
        self.env = {**env, **git_config_env(), "GIT_TERMINAL_PROMPT": "0"}
        self.branch = branch_for(job.issue_key)
        self.ref = f"refs/heads/{self.branch}"
        self.record = job.journal.path / RECORD

    def begin(self) -> str:
        """Fetch jira/<KEY>, bring the issue's worktree to where the job must start, and return that commit (which
        the remote's jira/<KEY> has then)."""
        remote_tip, default = self._ls_remote()
        local = self.workspaces.commit_of(self.ref)
        if remote_tip is not None:
            commit = self._fetched(remote_tip, self.ref, "remote")
            if local is None or local == commit:
                how = f"{self.branch} as the remote has it"
            elif self.workspaces.is_ancestor(local, commit):
                how = f"{self.branch} fast-forwarded to the remote's tip"
            else:
                self._drop(local, commit)
                how = f"{self.branch} reset to the remote's tip"
        elif local is not None:
            commit, how = local, f"the local {self.branch}, which the remote lacked"
        elif default is not None:
            commit = self._fetched(default[1], default[0], "base")
            how = f"a new {self.branch} from the remote's {default[0].removeprefix('refs/heads/')}"
        else:
            commit = self.workspaces.commit_of("HEAD") or ""
            how = f"a new {self.branch} from the repository's HEAD (the remote has no default branch)"
        if not commit:
            raise WorkspaceError(f"{self.workspaces.repo} has no commit to start {self.branch} from")
        self._discard_changes()
        path = self.workspaces.prepare(self.job.issue_key, commit)
        if remote_tip is None:
            # Publish the start before any work: from now on every job of the issue, a rerun of this one after a
            # crash included, starts from the remote (where the rule above drops a crashed run's commits).
            self._push()
            how += f", published on {self.remote}"
        self.job.log(pb.LOG_LEVEL_INFO, f"workspace {path} at {commit[:12]}: {how}", STAGE)
        return commit

    def landed(self, start: str) -> pb.Result | None:
        """The recorded result of an earlier run of this job whose push reached the remote, if there was one."""
        try:
            saved = json.loads(self.record.read_text())
        except (OSError, ValueError):
            return None
        pushed = str(saved.get("commit", ""))
        if not pushed or not self.workspaces.is_ancestor(pushed, start):
            self.record.unlink(missing_ok=True)  # that push never landed: the job runs again
            return None
        message = f"an earlier run of this job pushed {pushed[:12]} before the agent stopped; not running it again"
        self.job.log(pb.LOG_LEVEL_WARNING, message, "push")
        return json_format.Parse(json.dumps(saved["result"]), pb.Result())

    def finish(self, start: str, result: pb.Result) -> pb.Result:
        """After a successful command: push jira/<KEY> if the remote lacks its tip; the job's final result."""
        tip = self.workspaces.commit_of(self.ref)
        if tip is None or tip == start:
            return result
        if not self.workspaces.is_ancestor(start, tip):
            return _failed(
                result,
                PushRejected(
                    f"push rejected: {self.branch} no longer contains {start[:12]}, the remote's tip this "
                    "job started from (the job rewrote commits the remote already has); not pushing: only a force "
                    "push could, and it would drop them from the remote"
                ),
            )
        self.record.parent.mkdir(parents=True, exist_ok=True)
        self.record.write_text(json.dumps({"commit": tip, "result": json_format.MessageToDict(result)}))
        try:
            self._push()
        except RemoteError as err:
            self.record.unlink(missing_ok=True)
            return _failed(result, err)
        self.job.log(pb.LOG_LEVEL_INFO, f"pushed {self.branch} at {tip[:12]} to {self.remote}", "push")
        return result

    def _ls_remote(self) -> tuple[str | None, tuple[str, str] | None]:
        """The remote's tip of jira/<KEY>, and its default branch as (ref, commit); None for what it lacks."""
        lines = self._remote_git(["ls-remote", "--symref", self.remote, "HEAD", self.ref], "read")
        tips: dict[str, str] = {}
        head_ref = None
        for line in lines:
            left, _, name = line.partition("\t")
            if left.startswith("ref: ") and name == "HEAD":
                head_ref = left.removeprefix("ref: ")
            elif name in ("HEAD", self.ref):
                tips[name] = left
        default = (head_ref, tips["HEAD"]) if head_ref and "HEAD" in tips else None
        return tips.get(self.ref), default

    def _fetched(self, commit: str, remote_ref: str, name: str) -> str:
        """`commit` (the remote's `remote_ref`), fetched into refs/orchestrator/<KEY>/<name> unless already here."""
        if self.workspaces.commit_of(commit) == commit:
            return commit
        local_ref = f"refs/orchestrator/{self.job.issue_key}/{name}"
        fetch = ["fetch", "--quiet", "--no-tags", "--no-write-fetch-head", "--no-recurse-submodules"]
        self._remote_git([*fetch, self.remote, f"+{remote_ref}:{local_ref}"], "fetch from")
        # The remote may have moved since ls-remote: the fetched tip is the one the job starts from.
        fetched = self.workspaces.commit_of(local_ref)
        if fetched is None:
            raise RemoteError(f"fetching {remote_ref} from {self.remote} left no {local_ref}")
        return fetched

    def _drop(self, local: str, remote_tip: str) -> None:
        """Log the local commits that the remote lacks; the reset that follows drops them."""
        lines = self._git(["log", "--format=%h %s", f"{remote_tip}..{local}"])
        message = (
            f"the local {self.branch} has {len(lines)} commit(s) the remote lacks, from a run that never reported "
            "success (its work is redone from the remote's tip); dropping them (the branch's reflog keeps them): "
        )
        self.job.log(pb.LOG_LEVEL_WARNING, message + "; ".join(lines[:SHOWN]), STAGE)

    def _discard_changes(self) -> None:
        changes = self.workspaces.changes(self.job.issue_key)
        if changes:
            self.job.log(
                pb.LOG_LEVEL_WARNING,
                f"resetting {len(changes)} path(s) where the worktree differs from its branch, such as uncommitted "
                f"changes of an earlier run (jobs hand work over only as commits): {'; '.join(changes[:SHOWN])}",
                STAGE,
            )

    def _push(self) -> None:
        # No --force: a fast-forward cannot lose anyone's commits, and the remote refuses anything else.
        call = self._call(["push", "--porcelain", self.remote, f"{self.ref}:{self.ref}"], "push to")
        if call.ok:
            return
        rejected = [line.split("\t")[-1] for line in call.out if line.startswith("!")]
        if rejected:
            raise PushRejected(
                f"push rejected: {self.remote} refused {self.branch} ({'; '.join(rejected)}): the remote branch "
                "moved while this job worked, or a hook refused it; nothing was overwritten, and a retry starts "
                "from the remote's tip"
            )
        self._raise_refusal(call, "push")
        raise RemoteError(f"cannot push to {self.remote}: {call.reason}")

    def _remote_git(self, args: list[str], what: str) -> list[str]:
        call = self._call(args, what)
        if not call.ok:
            self._raise_refusal(call, args[0])
            raise RemoteError(f"cannot {what} {self.remote}: {call.reason}")
        return call.out

    def _raise_refusal(self, call: _Call, what: str) -> None:
        line = credentials_refused(call.err)
        if line is not None:
            raise CredentialsRefused(refusal_message(self.remote, what, line))

    def _call(self, args: list[str], what: str) -> _Call:
        """Run one git call that talks to the remote: in its own process group, with a timeout, cancellable."""
        out: list[str] = []
        err: list[str] = []
        job = self.job

        def on_line(stream: str, line: str) -> None:
            (out if stream == "stdout" else err).append(line)

        def on_start(pid: int) -> None:  # recorded, so a restarted agent kills a leftover git process
            job.set_state(pb.JOB_STATE_RUNNING, pid, process_start_time(pid))

        repo, timeout = self.workspaces.repo, NETWORK_TIMEOUT
        outcome = run_command(["git", *args], repo, self.env, None, timeout, on_line, on_start, job.cancel)
        job.set_state(pb.JOB_STATE_RUNNING)
        if outcome.cancelled:
            raise HandoverCancelled(f"cancelled during git {args[0]}")
        if outcome.timed_out:
            raise RemoteError(f"cannot {what} {self.remote}: git {args[0]} took longer than {NETWORK_TIMEOUT:g} s")
        reason = next((line.strip() for line in reversed(err) if line.strip()), outcome.error or "git failed")
        return _Call(outcome.exit_code == 0, out, err, reason)

    def _git(self, args: list[str]) -> list[str]:
        return git(args, self.workspaces.repo, self.env).splitlines()


@dataclass(frozen=True)
class _Call:
    ok: bool
    out: list[str]  # stdout lines
    err: list[str]  # stderr lines
    reason: str  # stderr's last line: why it failed


def _failed(result: pb.Result, err: RemoteError) -> pb.Result:
    """The command's summary and outputs, failed: retryable (the retry starts from the remote's tip) unless the
    remote refused the credentials."""
    return pb.Result(
        success=False,
        summary=result.summary,
        outputs=dict(result.outputs),
        error_kind=remote_error_kind(err),
        error_message=str(err),
    )


def remote_error_kind(err: RemoteError) -> pb.ErrorKind:
    """PERMISSION_DENIED for refused credentials (not retried), else AGENT_CRASHED (retried)."""
    return pb.ERROR_KIND_PERMISSION_DENIED if isinstance(err, CredentialsRefused) else pb.ERROR_KIND_AGENT_CRASHED
