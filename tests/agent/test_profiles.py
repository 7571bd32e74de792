"""Profiles and agent settings: shipped profiles load; a malformed one is one clear error naming file and key."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from app.agent_client.protocol import COMMANDS
from app.agent_server.profiles import ProfileError, load_profile
from app.config import ConfigError
from tests.conftest import make_settings
from workflows.phases import PHASE_ORDER, PHASE_SPECS


@pytest.mark.parametrize("name", ["demo", "claude", "codex"])
def test_shipped_profiles_cover_every_command_but_cleanup(name: str) -> None:
    profile = load_profile(name)
    assert set(profile.commands) == set(COMMANDS) - {"cleanup"}
    assert profile.commands["TEST"].failure == "TESTS_FAILED"
    assert profile.commands["createPR"].outputs["pr_url"] == "{remote}#{branch}"


@pytest.mark.parametrize("name", ["claude", "codex"])
def test_a_cli_profile_names_each_phase_output_as_the_workflow_hands_it_on(name: str) -> None:
    # The workflow shows and hands on PHASE_SPECS[phase].output; a profile naming it otherwise loses the work.
    profile = load_profile(name)
    assert {phase: profile.commands[phase].output for phase in PHASE_ORDER} == {
        phase: PHASE_SPECS[phase].output for phase in PHASE_ORDER
    }
    # The wrapper puts the CLI's final message under the same key.
    for phase in PHASE_ORDER:
        run = profile.commands[phase].run
        if "--output" in run:
            assert run[run.index("--output") + 1] == PHASE_SPECS[phase].output


@pytest.mark.parametrize(("name", "cli"), [("claude", ("claude", "-p")), ("codex", ("codex", "exec"))])
def test_cli_profiles_read_the_prompt_on_stdin_through_the_stream_wrapper(name: str, cli: tuple[str, str]) -> None:
    profile = load_profile(name)
    for phase in PHASE_ORDER:
        if phase == "TEST":
            continue
        run = profile.commands[phase].run
        assert run[:3] == ("{python}", "-m", f"app.agent_server.cli_streams.{name}")
        assert run[run.index("--") + 1 : run.index("--") + 3] == cli
        assert profile.commands[phase].stdin == "prompt"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[commands.DEPLOY]\nrun = ['x']", "unknown command(s) DEPLOY"),
        ("[commands.CODE]\nrun = 'x'", "[commands.CODE] run: expected a non-empty list of strings"),
        ("[commands.CODE]\nrun = ['{secret}']", "unknown placeholder(s) secret"),
        ("[commands.CODE]\nrun = ['x']\nfailure = 'OOPS'", "failure: expected one of"),
        ("[commands.CODE]\nrun = ['x']\ntimeout = 'soon'", "timeout: expected a duration"),
        ("[commands.CODE]\nrun = ['x']\nstdin = 'file'", "stdin: expected one of prompt, none"),
        ("[commands.CODE\n", "not valid TOML"),
    ],
)
def test_malformed_profiles_say_what_is_wrong(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ProfileError) as err:
        load_profile(str(path))
    assert str(path) in str(err.value) and message in str(err.value)


def test_unknown_profile_name_lists_the_shipped_ones() -> None:
    with pytest.raises(ProfileError, match=r"no profile named 'gpt' \(shipped: claude, codex, demo; or a .toml path\)"):
        load_profile("gpt")


def test_agent_settings_are_validated(tmp_path: Path) -> None:
    cert = tmp_path / "cert.pem"
    cert.write_text("x")
    with pytest.raises(ConfigError, match="AGENT_TLS_CERT and AGENT_TLS_KEY: set both"):
        make_settings(tmp_path, AGENT_TLS_CERT=str(cert))
    with pytest.raises(ConfigError, match="AGENT_TLS_CA: no such file"):
        make_settings(tmp_path, AGENT_TLS_CA=str(tmp_path / "missing.pem"))
    with pytest.raises(ConfigError, match="AGENT_GIT_AUTHOR: expected 'Name <email>'"):
        make_settings(tmp_path, AGENT_GIT_AUTHOR="nobody")
    agents = make_settings(
        tmp_path, AGENT_ENV_PASSTHROUGH="PATH", PATH="/bin", JIRA_API_TOKEN="jira-secret", AGENT_REMOTE="rel/remote.git"
    ).agents
    assert dict(agents.child_env) == {"PATH": "/bin"}  # never the service's own secrets
    assert agents.remote == str((Path.cwd() / "rel/remote.git").resolve())
    ssh = make_settings(tmp_path, AGENT_REMOTE="git@github.com:org/repo.git").agents.remote
    assert ssh == "git@github.com:org/repo.git"


def test_agent_command_reports_a_bad_profile_in_one_line(tmp_path: Path) -> None:
    orchestrator = str(Path(sys.executable).parent / "orchestrator")
    done = subprocess.run(
        [orchestrator, "agent"],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "ORCHESTRATOR_VAR_DIR": str(tmp_path / "var"), "AGENT_PROFILE": "gpt"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.strip().startswith("orchestrator: configuration error: AGENT_PROFILE: no profile named 'gpt'")
