"""The remote branch as the hand-over point: agents with their own clones of one remote take turns on an issue.

Every agent here has its own AGENT_REPO (a clone of one bare remote) and AGENT_WORKSPACE_DIR, as agents on
different hosts would. The remote's hooks record every update of a branch, so the tests can check that each
push was a fast-forward: nothing was ever forced over someone's work.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from app.agent_client.proto import agent_pb2 as pb
from app.agent_server import handover
from app.agent_server.demo_repo import ensure_repository
from app.agent_server.server import AgentServer
from tests.agent.conftest import AgentProcess, AgentWorld, collect, pid_gone, request, wait_for, world_settings
from tests.conftest import free_port

KEY = "DEMO-1"
BRANCH = f"jira/{KEY}"
ZERO = "0" * 40
CONTEXT = json.dumps({"summary": "Greeting names the issue"})
COMMIT_WORK = Path(__file__).parent / "commit_work.py"
ENV = {
    "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
    "HOME": os.environ.get("HOME", "/tmp"),
    "GIT_AUTHOR_NAME": "Someone Else",
    "GIT_AUTHOR_EMAIL": "someone@example.invalid",
    "GIT_COMMITTER_NAME": "Someone Else",
    "GIT_COMMITTER_EMAIL": "someone@example.invalid",
    "GIT_CONFIG_COUNT": "1",
    "GIT_CONFIG_KEY_0": "commit.gpgsign",
    "GIT_CONFIG_VALUE_0": "false",
}
# The remote's hooks: `update` records every branch update; `post-receive` can hold a push after the remote's
# branch has moved (only an update of an existing branch, not its creation), so a test can kill the agent
# between its push landing and its result going out.
UPDATE_HOOK = """#!/bin/sh
echo "$1 $2 $3" >> "{log}"
"""
POST_RECEIVE_HOOK = """#!/bin/sh
while read old new ref; do
  if [ "$old" != "{zero}" ] && [ -e "{control}/hold-push" ]; then
    touch "{control}/received"
    i=0
    while [ ! -e "{control}/release-push" ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done
  fi
done
"""


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, env=ENV, capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"git {' '.join(args)}: {done.stderr}"
    return done.stdout.strip()


@dataclass
class Remote:
    """A bare repository standing in for the code host, with the demo project on `main`."""

    path: Path
    control: Path

    def tip(self, branch: str = BRANCH) -> str:
        return git(self.path, "rev-parse", f"refs/heads/{branch}")

    def subjects(self) -> list[str]:
        """The issue branch's commits on top of main, newest first."""
        return git(self.path, "log", "--format=%s", f"main..{BRANCH}").splitlines()

    def has(self, commit: str) -> bool:
        return subprocess.run(["git", "cat-file", "-e", commit], cwd=self.path, env=ENV, check=False).returncode == 0

    def updates(self) -> list[tuple[str, str]]:
        """(old, new) of every update of the issue branch, in order."""
        log = self.control / "updates"
        lines = log.read_text().splitlines() if log.exists() else []
        return [(old, new) for ref, old, new in (line.split() for line in lines) if ref == f"refs/heads/{BRANCH}"]

    def assert_only_fast_forwards(self) -> None:
        """Every update of the branch kept what the branch had: nothing was forced over anyone's work."""
        updates = self.updates()
        assert updates and updates[0][0] == ZERO
        for (_, before), (old, new) in itertools.pairwise(updates):
            assert old == before
            git(self.path, "merge-base", "--is-ancestor", old, new)  # fails unless a fast-forward
        assert updates[-1][1] == self.tip()


def make_remote(tmp_path: Path) -> Remote:
    seed, path, control = tmp_path / "seed", tmp_path / "remote.git", tmp_path / "remote-control"
    control.mkdir()
    ensure_repository(seed, ENV)
    git(tmp_path, "init", "--quiet", "--bare", "--initial-branch=main", str(path))
    git(seed, "push", "--quiet", str(path), "main")
    for name, text in (("update", UPDATE_HOOK), ("post-receive", POST_RECEIVE_HOOK)):
        hook = path / "hooks" / name
        hook.write_text(text.format(log=control / "updates", control=control, zero=ZERO))
        hook.chmod(0o755)
    return Remote(path, control)


def commit_profile(root: Path) -> str:
    """A profile whose CODE commits (tests/agent/commit_work.py) and whose TEST prints the branch's log."""
    path = root / "handover.toml"
    path.write_text(
        f"""
name = "handover"
[defaults]
stdin = "none"
timeout = "2m"

[commands.CODE]
run = ["{{python}}", "{COMMIT_WORK}", "{root / "control"}", "{{job_file}}"]

[commands.TEST]
run = ["git", "log", "--format=%s", "main..HEAD"]
output = "log"
"""
    )
    return str(path)


def clone_world(tmp_path: Path, name: str, remote: Remote, profile: str = "demo", **env: str) -> AgentWorld:
    """An agent with its own clone of the remote and its own workspaces (as on another host)."""
    root = tmp_path / name
    root.mkdir()
    repo = root / "repo"
    git(tmp_path, "clone", "--quiet", str(remote.path), str(repo))
    return world_settings(
        root,
        free_port(),
        profile=commit_profile(root) if profile == "commit" else profile,
        AGENT_ID=f"agent-{name}",
        AGENT_REPO=str(repo),
        AGENT_REMOTE=str(remote.path),
        **env,
    )


@contextmanager
def serving(world: AgentWorld) -> Iterator[AgentWorld]:
    server = AgentServer(world.settings)
    server.start()
    try:
        yield world
    finally:
        world.release()
        server.stop(grace=1)


def run(world: AgentWorld, job_id: str, command: str, **fields: object) -> tuple[list[str], pb.Result]:
    """Run a job to its result: its log lines and the result."""
    job = request(job_id, command, issue_key=KEY, phase=command, prompt="Do it", context=CONTEXT, **fields)
    with world.client() as client:
        events, result = collect(client.execute(job, timeout=60))
    return [e.log.message for e in events if e.HasField("log")], result


def kill_mid_job(world: AgentWorld, agent: AgentProcess, reached: Callable[[], bool], what: str) -> None:
    """Start CODE job `code-1` on the agent process, wait until `reached`, then SIGKILL the agent."""
    with world.client() as client:
        stream = client.execute(request("code-1", "CODE", issue_key=KEY), timeout=60)  # kept: a dropped call ends
        wait_for(reached, what=what)
        agent.kill()
        del stream


def local_tip(world: AgentWorld) -> str:
    return git(world.settings.agents.repo, "rev-parse", f"refs/heads/{BRANCH}")


def lines(world: AgentWorld, name: str) -> list[str]:
    path = world.control / name
    return path.read_text().split() if path.exists() else []


def test_two_agents_on_separate_clones_take_turns_on_one_issue(tmp_path: Path) -> None:
    remote = make_remote(tmp_path)
    a, b = clone_world(tmp_path, "a", remote), clone_world(tmp_path, "b", remote)
    main = remote.tip("main")
    # A commit on A's main that never reached the remote: a new issue still starts from the remote's main.
    (a.settings.agents.repo / "local.txt").write_text("only here\n")
    git(a.settings.agents.repo, "add", "local.txt")
    git(a.settings.agents.repo, "commit", "--quiet", "-m", "local only")

    with serving(a), serving(b):
        log, explored = run(a, "1-EXPLORE", "EXPLORE")
        assert explored.success
        assert f"a new {BRANCH} from the remote's main" in "\n".join(log)
        assert remote.tip() == main  # published at the first job's start: every later job starts from the remote
        assert run(a, "2-PLAN", "PLAN")[1].success
        assert run(a, "3-CODE", "CODE")[1].success

        log, tested = run(b, "4-TEST", "TEST")  # B has never seen the issue: it starts from A's pushed commits
        assert f"{BRANCH} as the remote has it" in "\n".join(log)
        assert tested.error_kind == pb.ERROR_KIND_TESTS_FAILED
        assert "tests.test_issue_demo_1.GreetIssueTest" in tested.outputs["test_report"]

        _, fixed = run(a, "5-FIX", "FIX")
        assert fixed.success and fixed.summary == "fixed greet_issue; the tests pass"

        log, retested = run(b, "6-TEST", "TEST")  # B's branch is behind: fast-forwarded to A's fix
        assert f"{BRANCH} fast-forwarded to the remote's tip" in "\n".join(log)
        assert retested.success and retested.outputs["test_report"].endswith("OK")
        assert run(b, "7-DOCUMENT", "DOCUMENT")[1].success

        log, verified = run(a, "8-runVerification", "runVerification")  # and back: A takes B's changelog
        assert f"{BRANCH} fast-forwarded to the remote's tip" in "\n".join(log)
        assert verified.success
        changelog = (a.settings.agents.workspace_dir / KEY / "CHANGELOG.md").read_text()
        assert f"- {KEY}: Greeting names the issue" in changelog
        _, pushed = run(a, "9-createPR", "createPR")
        assert pushed.success and pushed.outputs["pr_url"] == f"{remote.path}#{BRANCH}"

    assert remote.subjects() == [
        f"{KEY}: changelog",
        f"{KEY}: close the parenthesis in greet_issue",
        f"{KEY}: greet_issue and its test",
        f"{KEY}: plan",
    ]
    assert git(remote.path, "merge-base", "main", BRANCH) == main
    # Created once, then one fast-forward per committing job (PLAN, CODE, FIX on A; DOCUMENT on B).
    assert len(remote.updates()) == 5
    remote.assert_only_fast_forwards()
    assert local_tip(a) == local_tip(b) == remote.tip()


def test_a_push_the_remote_refuses_is_a_typed_failure_that_overwrites_nothing(tmp_path: Path) -> None:
    remote = make_remote(tmp_path)
    a = clone_world(tmp_path, "a", remote, "commit")
    (a.control / "hold").touch()
    ended: dict[str, pb.Result] = {}
    with serving(a):
        job = threading.Thread(target=lambda: ended.setdefault("first", run(a, "code-1", "CODE")[1]))
        job.start()
        wait_for(lambda: len(lines(a, "committed")) == 1, what="the job to commit")
        # Meanwhile someone else pushes to the issue's branch.
        human = tmp_path / "human"
        git(tmp_path, "clone", "--quiet", "--branch", BRANCH, str(remote.path), str(human))
        (human / "note.txt").write_text("a human's change\n")
        git(human, "add", "note.txt")
        git(human, "commit", "--quiet", "-m", f"{KEY}: a human's change")
        git(human, "push", "--quiet", "origin", BRANCH)
        theirs = remote.tip()
        a.release()
        job.join(30)
        first = ended["first"]
        assert not first.success and first.error_kind == pb.ERROR_KIND_AGENT_CRASHED
        assert first.error_message.startswith(f"push rejected: {remote.path} refused {BRANCH}")
        assert remote.tip() == theirs  # nothing was overwritten

        # The dispatch activity retries a crash with rerun_failed: the rerun starts from the remote's new tip.
        log, rerun = run(a, "code-1", "CODE", rerun_failed=True)
    assert rerun.success
    assert f"{BRANCH} reset to the remote's tip" in "\n".join(log)
    assert remote.subjects() == [f"{KEY}: CODE by code-1", f"{KEY}: a human's change"]
    remote.assert_only_fast_forwards()
    assert local_tip(a) == remote.tip()


def test_a_job_killed_between_commit_and_push_is_redone_from_the_remote(tmp_path: Path) -> None:
    remote = make_remote(tmp_path)
    a = clone_world(tmp_path, "a", remote, "commit")
    (a.control / "hold").touch()
    agent = AgentProcess(a, tmp_path)
    agent.start()
    try:
        kill_mid_job(a, agent, lambda: len(lines(a, "committed")) == 1, "the job to commit")
        [orphan] = lines(a, "committed")
        assert local_tip(a) == orphan and remote.tip() == remote.tip("main")  # the commit never left the agent
        (a.control / "hold").unlink()
        agent.start()
        # The caller re-attaches (same job id): the job never reported a result, so it runs again.
        log, result = run(a, "code-1", "CODE")
    finally:
        agent.stop()
    assert result.success
    assert lines(a, "starts") == ["code-1", "code-1"]
    assert any(orphan[:7] in line and "dropping them" in line for line in log)
    [_, redone] = lines(a, "committed")
    assert remote.tip() == redone != orphan and not remote.has(orphan)
    assert remote.subjects() == [f"{KEY}: CODE by code-1"]  # exactly once
    remote.assert_only_fast_forwards()


def test_a_job_redone_on_another_agent_supersedes_the_killed_agents_commit(tmp_path: Path) -> None:
    remote = make_remote(tmp_path)
    a, b = clone_world(tmp_path, "a", remote, "commit"), clone_world(tmp_path, "b", remote, "commit")
    (a.control / "hold").touch()
    agent_a = AgentProcess(a, tmp_path / "a")
    agent_a.start()
    try:
        kill_mid_job(a, agent_a, lambda: len(lines(a, "committed")) == 1, "the job to commit on A")
        [orphan] = lines(a, "committed")
        (a.control / "hold").unlink()
        with serving(b):  # the queue recovers the job and gives it to B
            _, redone = run(b, "code-1", "CODE")
        assert redone.success
        [theirs] = lines(b, "committed")
        assert remote.tip() == theirs

        agent_a.start()  # A comes back; the issue's next job lands on it
        log, listed = run(a, "test-1", "TEST")
    finally:
        agent_a.stop()
    assert listed.success and listed.outputs["log"] == f"{KEY}: CODE by code-1"
    assert any(orphan[:7] in line and "dropping them" in line for line in log)
    assert local_tip(a) == remote.tip() == theirs and not remote.has(orphan)
    assert remote.subjects() == [f"{KEY}: CODE by code-1"]
    remote.assert_only_fast_forwards()


def test_a_job_whose_push_landed_before_the_agent_died_is_not_run_again(tmp_path: Path) -> None:
    remote = make_remote(tmp_path)
    a = clone_world(tmp_path, "a", remote, "commit")
    (remote.control / "hold-push").touch()
    agent = AgentProcess(a, tmp_path)
    agent.start()
    try:
        kill_mid_job(a, agent, lambda: (remote.control / "received").exists(), "the job's push to reach the remote")
        [pushed] = lines(a, "committed")
        assert remote.tip() == pushed  # landed; the agent died before it could say so
        agent.start()  # its recovery kills the leftover push (and the hook holding it)
        log, result = run(a, "code-1", "CODE")
    finally:
        (remote.control / "release-push").touch()
        agent.stop()
    assert result.success and result.summary == "done"
    assert any("not running it again" in line for line in log)
    assert lines(a, "starts") == ["code-1"]
    assert remote.subjects() == [f"{KEY}: CODE by code-1"]
    remote.assert_only_fast_forwards()


def test_where_a_job_starts_when_the_remote_lacks_the_branch(tmp_path: Path) -> None:
    remote = make_remote(tmp_path)
    a = clone_world(tmp_path, "a", remote, "commit")
    repo = a.settings.agents.repo
    # A branch only this clone has (made before the remote was the hand-over point): kept, and published.
    git(repo, "switch", "--quiet", "-c", BRANCH)
    (repo / "old.txt").write_text("older work\n")
    git(repo, "add", "old.txt")
    git(repo, "commit", "--quiet", "-m", f"{KEY}: older work")
    git(repo, "switch", "--quiet", "main")
    older = git(repo, "rev-parse", BRANCH)
    with serving(a):
        log, started = run(a, "start-1", "startExecution")
        assert started.success
        assert f"the local {BRANCH}, which the remote lacked" in "\n".join(log)
        assert remote.tip() == local_tip(a) == older

        # What a run leaves uncommitted is not handed over: the next job starts from a clean checkout.
        workspace = a.settings.agents.workspace_dir / KEY
        (workspace / "greeting.py").write_text("broken\n")
        (workspace / "scratch.txt").write_text("left over\n")
        log, again = run(a, "start-2", "startExecution")
    assert again.success
    assert any("resetting 2 path(s) where the worktree differs from its branch" in line for line in log)
    assert git(workspace, "status", "--porcelain") == "" and not (workspace / "scratch.txt").exists()
    assert len(remote.updates()) == 1  # published once; nothing changed after


def test_a_second_demo_agent_clones_the_remote_instead_of_creating_another_project(tmp_path: Path) -> None:
    first = world_settings(tmp_path / "first", free_port(), profile="demo")
    remote = first.settings.agents.remote
    second = world_settings(tmp_path / "second", free_port(), profile="demo", AGENT_REMOTE=remote)
    AgentServer(first.settings).stop(grace=0)  # creates the demo project and its remote
    AgentServer(second.settings).stop(grace=0)
    main = git(Path(remote), "rev-parse", "main")
    assert git(first.settings.agents.repo, "rev-parse", "main") == main
    assert git(second.settings.agents.repo, "rev-parse", "main") == main


GIT_SHIM = """#!/bin/sh
# Before each call to the remote, ask the askpass helper for the password as git would over https, and record
# the answer's digest (never the answer).
case "$1" in
  ls-remote|fetch|push)
    if [ -n "$GIT_ASKPASS" ] && [ "$GIT_TERMINAL_PROMPT" = 0 ]; then
      printf '%s %s\\n' "$1" "$("$GIT_ASKPASS" "Password for 'https://bot@host': " | sha256sum | cut -c1-64)" >> "{log}"
    else
      echo "$1 no-askpass" >> "{log}"
    fi ;;
esac
exec "{git}" "$@"
"""


def test_git_calls_to_the_remote_use_the_jobs_credentials_through_askpass(tmp_path: Path) -> None:
    token = "ghp_handoverTokenValue0123456789"
    remote = make_remote(tmp_path)
    shim = tmp_path / "shim"
    shim.mkdir()
    calls = tmp_path / "remote-calls"
    (shim / "git").write_text(GIT_SHIM.format(log=calls, git=shutil.which("git")))
    (shim / "git").chmod(0o755)
    root = tmp_path / "a"
    root.mkdir()
    git(tmp_path, "clone", "--quiet", str(remote.path), str(root / "repo"))
    a = world_settings(
        root,
        free_port(),
        profile=commit_profile(root),
        AGENT_REPO=str(root / "repo"),
        AGENT_REMOTE=str(remote.path),
        PATH=f"{shim}:{ENV['PATH']}",
    )
    credentials = pb.Credentials(git_username="bot", git_token=token)
    with serving(a):
        log, result = run(a, "code-1", "CODE", credentials=credentials)
    assert result.success and remote.subjects() == [f"{KEY}: CODE by code-1"]
    digest = hashlib.sha256(f"{token}\n".encode()).hexdigest()
    # ls-remote and the publishing push before the command, the push of its commit after it: each with the token.
    assert calls.read_text().splitlines() == [f"ls-remote {digest}", f"push {digest}", f"push {digest}"]
    on_disk = b"".join(p.read_bytes() for p in root.rglob("*") if p.is_file())
    assert token.encode() not in on_disk
    assert not any(token in line for line in log) and token not in str(result)


HANGING_GIT = """#!/bin/sh
# A remote that never answers: ls-remote hangs (in a child process, like ssh or git-remote-https would).
if [ "$1" = ls-remote ]; then sleep 60 & echo $! > "{pid}"; wait; fi
exec "{git}" "$@"
"""


def test_a_remote_that_does_not_answer_fails_the_job_after_the_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(handover, "NETWORK_TIMEOUT", 1.0)
    remote = make_remote(tmp_path)
    shim, pid_file = tmp_path / "shim", tmp_path / "hanging.pid"
    shim.mkdir()
    (shim / "git").write_text(HANGING_GIT.format(pid=pid_file, git=shutil.which("git")))
    (shim / "git").chmod(0o755)
    a = clone_world(tmp_path, "a", remote, "commit", PATH=f"{shim}:{ENV['PATH']}")
    with serving(a):
        _, result = run(a, "code-1", "CODE")
    assert result.error_kind == pb.ERROR_KIND_AGENT_CRASHED
    assert result.error_message == f"cannot read {remote.path}: git ls-remote took longer than 1 s"
    assert pid_gone(int(pid_file.read_text())), "the hanging call's process group was not killed"
    assert lines(a, "starts") == []  # the command never ran on a branch that might be stale
