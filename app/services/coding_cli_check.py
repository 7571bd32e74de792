"""`orchestrator check` for a coding-CLI profile: the CLI is installed here, and its key reaches it."""

from __future__ import annotations

import shutil

from app.agent_client.coding_clis import CODING_CLIS, key_env_problem
from app.config import AgentSettings
from app.services.checks import Check


def check_coding_cli(agents: AgentSettings) -> Check | None:
    """For AGENT_PROFILE=claude or codex: is the CLI on the agent's PATH, and does the key go where it reads it?"""
    cli = CODING_CLIS.get(agents.profile)
    if cli is None:
        return None
    name = f"agent profile {agents.profile}"
    problem = key_env_problem(agents.profile, agents.coder_key_env) if agents.coder_api_key else None
    if problem is not None:
        return Check(name, False, problem)
    found = shutil.which(cli.executable, path=agents.child_env.get("PATH"))
    if found is None:
        return Check(name, False, f"`{cli.executable}` is not on the agent's PATH (install: {cli.install})")
    key = f"key by AGENT_CODER_API_KEY as {agents.coder_key_env}" if agents.coder_api_key else "no key: its own login"
    return Check(name, True, f"{found}; {key}")
