"""What each command may reach: which of the job's credentials it gets, and whether it runs on a snapshot.

One table, by command. The coding tool's key goes only to the AI phases; the git token only to the git calls
that talk to the remote (the hand-over's, and createPR's push); TEST and runVerification run code an AI wrote
from ticket text, so they get no credential at all and run on a detached snapshot of the worktree
(app/agent_server/snapshot.py) instead of the shared repository. A command missing from the table gets nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.agent_client.credentials import coder_env, git_credential_env
from app.agent_client.proto import agent_pb2 as pb


@dataclass(frozen=True)
class Access:
    """What one command gets."""

    coder_key: bool = False  # the coding tool's key (AGENT_CODER_API_KEY as AGENT_CODER_KEY_ENV)
    git_token: bool = False  # the git token, through the askpass helper
    snapshot: bool = False  # runs on a throwaway copy of the worktree with its own git directory


AI_PHASE = Access(coder_key=True)
PUSH = Access(git_token=True)
UNTRUSTED = Access(snapshot=True)
NOTHING = Access()

ACCESS: dict[str, Access] = {
    "EXPLORE": AI_PHASE,
    "PLAN": AI_PHASE,
    "CODE": AI_PHASE,
    "FIX": AI_PHASE,
    "DOCUMENT": AI_PHASE,
    "TEST": UNTRUSTED,
    "runVerification": UNTRUSTED,
    "createPR": PUSH,
    "startExecution": NOTHING,
    "cleanup": NOTHING,
}


def access_of(command: str) -> Access:
    """The command's access; nothing for a command the table does not name."""
    return ACCESS.get(command, NOTHING)


def credentials_env(command: str, credentials: pb.Credentials, askpass: str) -> dict[str, str]:
    """The environment variables that carry the credentials this command may have (often none)."""
    access = access_of(command)
    env: dict[str, str] = {}
    if access.coder_key:
        env.update(coder_env(credentials))
    if access.git_token:
        env.update(git_credential_env(credentials, askpass))
    return env
