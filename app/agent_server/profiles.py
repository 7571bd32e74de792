"""Agent profiles: TOML files that map each protocol command to a command line (shipped: demo, claude, codex)."""

from __future__ import annotations

import string
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from app.agent_client.protocol import COMMANDS, ERROR_KINDS
from app.config import ConfigError, parse_duration

SHIPPED = Path(__file__).parent / "profiles"
# What a command line and a profile's outputs may name; the agent fills these in for each job.
PLACEHOLDERS = frozenset(
    {
        "python",  # this agent's Python interpreter
        "workspace",  # the worktree (also the command's working directory)
        "repo",  # the configured repository the worktrees belong to
        "remote",  # where createPR pushes
        "branch",  # jira/<KEY>
        "issue_key",
        "job_id",
        "command",
        "phase",
        "job_file",  # JSON: every request field but the credentials, plus the paths below
        "prompt_file",
        "context_file",
        # The command may write {"summary": ..., "outputs": {...}, "error_kind": ..., "result": {...}} here;
        # "result" is the phase's typed result (app/agent_client/result.schema.json).
        "result_file",
        "result_schema",  # the JSON Schema that "result" must meet (app/agent_client/result.schema.json)
    }
)
STDIN_MODES = ("prompt", "none")


class ProfileError(ConfigError):
    """A profile is missing or malformed; the message names the file and the key."""


@dataclass(frozen=True)
class CommandSpec:
    """How the agent runs one protocol command."""

    run: tuple[str, ...]
    stdin: str = "prompt"  # "prompt": the prompt (then a blank line and the context) on stdin; "none"
    output: str = ""  # the outputs key that gets the command's output tail when it writes no such output
    outputs: Mapping[str, str] = field(default_factory=dict)  # templated outputs added on success
    failure: str = "AGENT_CRASHED"  # the error kind of a non-zero exit
    timeout: timedelta = timedelta(minutes=60)
    summary: str = ""  # templated summary on success when the command reports none (else its last line)


@dataclass(frozen=True)
class Profile:
    """A named set of command lines."""

    name: str
    description: str
    commands: Mapping[str, CommandSpec]
    source: Path


def load_profile(name_or_path: str) -> Profile:
    """Load a shipped profile by name (`demo`, `claude`, `codex`) or any profile file by path."""
    path = Path(name_or_path).expanduser()
    if path.suffix != ".toml":
        path = SHIPPED / f"{name_or_path}.toml"
        if not path.is_file():
            shipped = ", ".join(sorted(p.stem for p in SHIPPED.glob("*.toml")))
            raise ProfileError(
                f"AGENT_PROFILE: no profile named {name_or_path!r} (shipped: {shipped}; or a .toml path)"
            )
    if not path.is_file():
        raise ProfileError(f"AGENT_PROFILE: no such profile file: {path}")
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as err:
        raise ProfileError(f"{path}: not valid TOML: {err}") from None
    defaults = data.get("defaults", {})
    commands = data.get("commands", {})
    if not isinstance(commands, dict) or not isinstance(defaults, dict):
        raise ProfileError(f"{path}: [defaults] and [commands.<COMMAND>] must be tables")
    unknown = sorted(set(commands) - set(COMMANDS))
    if unknown:
        raise ProfileError(f"{path}: unknown command(s) {', '.join(unknown)}; expected some of {', '.join(COMMANDS)}")
    specs = {name: _command(path, name, {**defaults, **table}) for name, table in commands.items()}
    return Profile(str(data.get("name", path.stem)), str(data.get("description", "")), specs, path)


def _command(path: Path, name: str, table: Any) -> CommandSpec:
    where = f"{path}: [commands.{name}]"
    if not isinstance(table, dict):
        raise ProfileError(f"{where} must be a table")
    run = table.get("run")
    if not isinstance(run, list) or not run or not all(isinstance(part, str) for part in run):
        raise ProfileError(f"{where} run: expected a non-empty list of strings")
    outputs = table.get("outputs", {})
    if not isinstance(outputs, dict) or not all(isinstance(v, str) for v in outputs.values()):
        raise ProfileError(f"{where} outputs: expected a table of strings")
    summary = table.get("summary", "")
    if not isinstance(summary, str):
        raise ProfileError(f"{where} summary: expected a string")
    for template in (*run, *outputs.values(), summary):
        _check_placeholders(where, template)
    stdin = str(table.get("stdin", "prompt"))
    if stdin not in STDIN_MODES:
        raise ProfileError(f"{where} stdin: expected one of {', '.join(STDIN_MODES)}, got {stdin!r}")
    failure = str(table.get("failure", "AGENT_CRASHED"))
    if failure not in ERROR_KINDS:
        raise ProfileError(f"{where} failure: expected one of {', '.join(ERROR_KINDS)}, got {failure!r}")
    return CommandSpec(
        run=tuple(run),
        stdin=stdin,
        output=str(table.get("output", "")),
        outputs=dict(outputs),
        failure=failure,
        timeout=_duration(f"{where} timeout", str(table.get("timeout", "60m"))),
        summary=summary,
    )


def _duration(name: str, raw: str) -> timedelta:
    try:
        return parse_duration(name, raw)
    except ConfigError as err:
        raise ProfileError(str(err)) from None


def _check_placeholders(where: str, template: str) -> None:
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError as err:
        raise ProfileError(f"{where}: bad template {template!r}: {err}") from None
    unknown = names - PLACEHOLDERS
    if unknown:
        raise ProfileError(f"{where}: unknown placeholder(s) {', '.join(sorted(unknown))} in {template!r}")


def expand(template: str, values: Mapping[str, str]) -> str:
    """Fill a template's placeholders."""
    return template.format_map(values)
