"""The coding CLIs the shipped profiles run: their executable and the variables (their key among them) they read."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CodingCli:
    """One coding CLI, as a profile of the same name runs it."""

    executable: str
    env_prefixes: tuple[str, ...]  # the only variables beyond the basics that the CLI sees
    key_env: str  # where AGENT_CODER_KEY_ENV should put AGENT_CODER_API_KEY for it
    install: str


# Anthropic's README now recommends its install script; the npm package still works (and is what `npm` users know).
CLAUDE_INSTALL = "curl -fsSL https://claude.ai/install.sh | bash, or npm install -g @anthropic-ai/claude-code"
CODING_CLIS = {
    # ANTHROPIC_API_KEY (or ANTHROPIC_AUTH_TOKEN, ANTHROPIC_BASE_URL, ...) and Claude Code's CLAUDE_CODE_* settings.
    "claude": CodingCli("claude", ("ANTHROPIC_", "CLAUDE_"), "ANTHROPIC_API_KEY", CLAUDE_INSTALL),
    # CODEX_API_KEY (read by `codex exec`), OPENAI_API_KEY / OPENAI_BASE_URL, and CODEX_HOME (its login and config).
    "codex": CodingCli("codex", ("CODEX_", "OPENAI_"), "CODEX_API_KEY", "npm install -g @openai/codex"),
}


def key_env_problem(profile: str, key_env: str) -> str | None:
    """Why the coding key would never reach the profile's CLI under `key_env`, or None when it would."""
    cli = CODING_CLIS.get(profile)
    if cli is None or key_env.startswith(cli.env_prefixes):
        return None
    return f"AGENT_CODER_KEY_ENV={key_env}: the {profile} CLI never sees that variable (set {cli.key_env})"
