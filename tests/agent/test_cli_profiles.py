"""The claude and codex profiles, run by a real agent against stand-in CLIs (tests/agent/coding_cli.py) on PATH."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from app.agent_client.proto import agent_pb2 as pb
from app.agent_client.results import read_result
from app.agent_server.profiles import SHIPPED
from app.agent_server.server import AgentServer
from app.services.coding_cli_check import check_coding_cli
from tests.agent.conftest import AgentWorld, collect, pid_gone, request, wait_for, world_settings
from tests.conftest import free_port, make_settings

STAND_IN = Path(__file__).parent / "coding_cli.py"
GIT_TOKEN = "ghp-git-token-never-for-the-cli-7731"
KEYS = {"claude": ("ANTHROPIC_API_KEY", "sk-ant-test-key-5521"), "codex": ("CODEX_API_KEY", "sk-codex-test-key-9034")}


@dataclass
class CliWorld:
    """An agent running a CLI profile, and the folder where the stand-in records each call."""

    world: AgentWorld
    cli: str
    record: Path

    def calls(self) -> list[dict[str, object]]:
        """Every call of the stand-in so far: argv, environment, stdin, pid."""
        path = self.record / "calls.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

    def pids(self) -> list[int]:
        """Host pids of the slow stand-in and its child: the process with the record folder in its environment, and
        its children (a CLI confined to its own PID namespace by app/agent_server/confinement.py knows only its pid
        in there, so the pids it records are not the host's)."""
        if not (self.record / "pids").exists():
            return []  # not started yet
        marker, parents = f"STAND_IN_RECORD={self.record}".encode(), {}
        stand_in = []
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                environ = (proc / "environ").read_bytes().split(b"\0")
                stat = (proc / "stat").read_text()
            except OSError:
                continue
            if pid_gone(int(proc.name)):
                continue
            parents[int(proc.name)] = int(stat.rsplit(")", 1)[-1].split()[1])
            if marker in environ:
                stand_in.append(int(proc.name))
        return stand_in + [pid for pid, parent in parents.items() if parent in stand_in]

    def credentials(self, key: bool = True) -> pb.Credentials:
        """The job's credentials: a git token (never for the CLI) and, unless told not to, the CLI's key."""
        name, value = KEYS[self.cli]
        return pb.Credentials(git_username="bot", git_token=GIT_TOKEN, agent_env={name: value} if key else {})


@contextmanager
def started(tmp_path: Path, cli: str, mode: str, timeout: str = "") -> Iterator[CliWorld]:
    """An agent with the shipped `cli` profile (or a copy with another timeout) and the stand-in first on PATH."""
    bin_dir, record = tmp_path / "bin", tmp_path / "record"
    bin_dir.mkdir()
    record.mkdir()
    launcher = bin_dir / cli
    launcher.write_text(
        f"#!/bin/sh\nSTAND_IN_CLI={cli} STAND_IN_MODE={mode} STAND_IN_RECORD={record} "
        f'exec {sys.executable} {STAND_IN} "$@"\n'
    )
    launcher.chmod(0o755)
    profile = cli
    if timeout:
        copy = tmp_path / f"{cli}-short.toml"
        copy.write_text((SHIPPED / f"{cli}.toml").read_text().replace('timeout = "90m"', f'timeout = "{timeout}"'))
        profile = str(copy)
    path = f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}"
    world = world_settings(tmp_path, free_port(), profile=profile, PATH=path)
    server = AgentServer(world.settings)
    server.start()
    try:
        yield CliWorld(world, cli, record)
    finally:
        server.stop(grace=1)


@pytest.fixture(params=["claude", "codex"])
def cli(request: pytest.FixtureRequest) -> str:
    """Each coding CLI profile."""
    return str(request.param)


def run_job(world: CliWorld, job_id: str, command: str, key: bool = True) -> tuple[list[str], pb.Result]:
    """Run one phase command; its log lines and result."""
    job = request(
        job_id,
        command,
        phase=command,
        prompt="Greet the reporter by name.",
        context='{"issue": "DEMO-1"}',
        credentials=world.credentials(key),
    )
    with world.world.client() as client:
        events, result = collect(client.execute(job, timeout=60))
    return [e.log.message for e in events if e.HasField("log")], result


@pytest.mark.parametrize("command", ["EXPLORE", "CODE"])
def test_a_phase_runs_the_cli_with_the_prompt_on_stdin_and_returns_its_typed_result(
    tmp_path: Path, cli: str, command: str
) -> None:
    with started(tmp_path, cli, "normal") as world:
        lines, result = run_job(world, f"j-{cli}-{command.lower()}", command)
        [call] = world.calls()
    assert result.success, result.error_message
    typed = read_result(command, result.result)
    assert typed is not None, "the typed result was not passed on"
    argv = [str(a) for a in call["argv"]]  # type: ignore[union-attr]
    if cli == "claude":
        mode = "plan" if command == "EXPLORE" else "acceptEdits"
        assert argv[:6] == ["-p", "--output-format", "stream-json", "--verbose", "--permission-mode", mode]
        assert argv[-2] == "--add-dir" and Path(argv[-1], "result.json").is_file()  # the job's journal folder
        assert ("wrote the result" in result.summary) == (command == "CODE")  # plan mode: the ```json fallback
    else:
        sandbox = ["--sandbox", "read-only"] if command == "EXPLORE" else ["--full-auto", "--add-dir"]
        assert argv[:4] == ["exec", "--json", *sandbox] and argv[-1] == "-"
    stdin = str(call["stdin"])
    assert stdin.startswith('Greet the reporter by name.\n\n{"issue": "DEMO-1"}')
    assert f"Phase key: {command.lower()}" in stdin
    env = dict(call["env"])  # type: ignore[call-overload]
    name, value = KEYS[cli]
    assert env[name] == value
    assert GIT_TOKEN not in json.dumps(env) and not {"AGENT_GIT_TOKEN", "GIT_ASKPASS"} & set(env)
    assert not [k for k in env if k.startswith(("AGENT_", "JIRA_", "TEMPORAL_"))]
    tool = "[tool] Bash git status" if cli == "claude" else "[tool] $ bash -lc ls"
    message = "[message] Looking at the repository." if cli == "claude" else "[reasoning] **Reading the repo**"
    assert tool in lines and message in lines
    assert any(line.startswith("[tool-result] ") for line in lines)
    assert [line for line in lines if line.startswith("[result] Done")], lines
    output = {"EXPLORE": "findings", "CODE": "commits"}[command]
    assert result.outputs[output].startswith("Done")


@pytest.mark.parametrize(("mode", "key"), [("auth", True), ("normal", False)])
def test_a_refused_or_missing_key_is_a_permission_failure(tmp_path: Path, cli: str, mode: str, key: bool) -> None:
    with started(tmp_path, cli, mode) as world:
        lines, result = run_job(world, f"j-{cli}-auth", "PLAN", key=key)
    assert not result.success
    assert result.error_kind == pb.ERROR_KIND_PERMISSION_DENIED
    assert "the coding CLI refused its credentials" in result.error_message
    assert any(line.startswith("[error] ") for line in lines)


def test_a_rate_limit_is_a_retried_failure(tmp_path: Path, cli: str) -> None:
    with started(tmp_path, cli, "rate") as world:
        _, result = run_job(world, f"j-{cli}-rate", "CODE")
    assert result.error_kind == pb.ERROR_KIND_AGENT_CRASHED  # the dispatch activity retries it
    assert "rate limiting or overloaded" in result.error_message and "429" in result.error_message


def test_a_crash_is_the_agents_failure_with_what_the_cli_said(tmp_path: Path, cli: str) -> None:
    with started(tmp_path, cli, "crash") as world:
        lines, result = run_job(world, f"j-{cli}-crash", "CODE")
    assert result.error_kind == pb.ERROR_KIND_AGENT_CRASHED
    said = "TypeError" if cli == "claude" else "panicked"
    # The summary says the CLI failed and what it said; the error line is the last line the command printed, which
    # is the wrapper's or, as the two output streams interleave, the CLI's own: either way it carries what it said.
    assert "the coding CLI failed" in result.summary and said in result.summary and said in result.error_message
    assert any(line.startswith("[tool] ") for line in lines), "the events before the crash were streamed"


def test_cancel_kills_the_cli_and_its_children(tmp_path: Path, cli: str) -> None:
    with started(tmp_path, cli, "slow") as world:
        job = request(f"j-{cli}-cancel", "CODE", prompt="work", credentials=world.credentials())
        with world.world.client() as client:
            stream = client.execute(job, timeout=60)
            next(iter(stream))
            wait_for(lambda: len(world.pids()) == 2, what="the CLI and its child to start")
            assert client.cancel(job.job_id, "test").state == pb.JOB_STATE_CANCELLED
            rest = list(stream)
        assert rest[-1].result.error_kind == pb.ERROR_KIND_CANCELLED
        # The group was SIGKILLed; the CLI's own child is not the agent's to reap, so its end is awaited.
        wait_for(lambda: all(pid_gone(pid) for pid in world.pids()), timeout=5, what="the CLI's processes to end")


def test_a_cli_that_runs_too_long_is_stopped(tmp_path: Path) -> None:
    with started(tmp_path, "claude", "slow", timeout="3s") as world:
        _, result = run_job(world, "j-claude-timeout", "CODE")
        assert result.error_kind == pb.ERROR_KIND_TIMEOUT
        wait_for(lambda: all(pid_gone(pid) for pid in world.pids()), timeout=5, what="the CLI's processes to end")


def test_a_missing_cli_says_how_to_install_it(tmp_path: Path) -> None:
    with started(tmp_path, "codex", "normal") as world:
        (tmp_path / "bin" / "codex").unlink()
        _, result = run_job(world, "j-codex-missing", "CODE")
    assert result.error_kind == pb.ERROR_KIND_AGENT_CRASHED
    assert "could not start 'codex'" in result.error_message and "docs/agents.md" in result.error_message


def test_check_says_whether_the_cli_is_installed_and_its_key_reaches_it(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    assert check_coding_cli(make_settings(tmp_path, AGENT_PROFILE="demo").agents) is None
    missing = check_coding_cli(make_settings(tmp_path, AGENT_PROFILE="codex", PATH=str(bin_dir)).agents)
    assert missing is not None and not missing.ok
    assert missing.detail == "`codex` is not on the agent's PATH (install: npm install -g @openai/codex)"
    (bin_dir / "codex").write_text("#!/bin/sh\n")
    (bin_dir / "codex").chmod(0o755)
    wrong = make_settings(tmp_path, AGENT_PROFILE="codex", PATH=str(bin_dir), AGENT_CODER_API_KEY="sk-codex-1234")
    problem = check_coding_cli(wrong.agents)
    assert problem is not None and not problem.ok
    assert problem.detail == (
        "AGENT_CODER_KEY_ENV=ANTHROPIC_API_KEY: the codex CLI never sees that variable (set CODEX_API_KEY)"
    )
    right = make_settings(
        tmp_path,
        AGENT_PROFILE="codex",
        PATH=str(bin_dir),
        AGENT_CODER_API_KEY="sk-codex-1234",
        AGENT_CODER_KEY_ENV="CODEX_API_KEY",
    )
    fine = check_coding_cli(right.agents)
    assert fine is not None and fine.ok
    assert fine.detail == f"{bin_dir / 'codex'}; key by AGENT_CODER_API_KEY as CODEX_API_KEY"
    assert "sk-codex" not in fine.detail
