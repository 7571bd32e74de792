"""The one table of what each command gets: the coder key only to AI phases, the git token only to pushing."""

from __future__ import annotations

from app.agent_client.proto import agent_pb2 as pb
from app.agent_client.protocol import COMMANDS
from app.agent_server.step_access import ACCESS, access_of, credentials_env

CREDENTIALS = pb.Credentials(
    git_username="bot", git_token="git-token-1234", agent_env={"ANTHROPIC_API_KEY": "key-5678"}
)


def test_each_command_gets_only_the_credentials_of_its_step() -> None:
    assert set(ACCESS) == set(COMMANDS)  # every command is decided, none by default
    given = {name: set(credentials_env(name, CREDENTIALS, "/askpass")) for name in COMMANDS}
    git = {"GIT_ASKPASS", "GIT_TERMINAL_PROMPT", "AGENT_GIT_USERNAME", "AGENT_GIT_TOKEN"}
    for phase in ("EXPLORE", "PLAN", "CODE", "FIX", "DOCUMENT"):
        assert given[phase] == {"ANTHROPIC_API_KEY"}
    assert given["createPR"] == git
    for name in ("TEST", "runVerification", "startExecution", "cleanup"):
        assert given[name] == set()
    assert [name for name in COMMANDS if access_of(name).snapshot] == ["TEST", "runVerification"]
    assert credentials_env("somethingNew", CREDENTIALS, "/askpass") == {}
