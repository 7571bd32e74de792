"""What one line of a coding CLI's JSON event stream says, and how it is shown as a log line."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

TOOL_RESULT_LINES = 5  # a tool's output (a file, a test run) is shown by its first lines; the CLI keeps the rest
TEXT_WIDTH = 300


@dataclass(frozen=True)
class Said:
    """One event's meaning: log lines (stage, text), the final message, an error, and whether the run failed."""

    lines: tuple[tuple[str, str], ...] = ()
    final: str | None = None
    error: str | None = None
    failed: bool = False


def log_lines(stage: str, text: str) -> list[str]:
    """`[stage] text`, one per line of the text, so each streamed line says what it is."""
    return [f"[{stage}] {line}" for line in (text.splitlines() or [""])]


def first_lines(text: str, count: int = TOOL_RESULT_LINES) -> str:
    """The first lines of a long output, then how many more there were."""
    lines = text.splitlines()
    shown = "\n".join(line[:TEXT_WIDTH] for line in lines[:count])
    return shown + (f"\n... ({len(lines) - count} more lines)" if len(lines) > count else "")


def tool_call(name: str, given: Any) -> str:
    """A tool call in one line: its name and the argument that says most (command, file, pattern)."""
    if isinstance(given, Mapping):
        for key in ("command", "file_path", "path", "pattern", "url", "query", "description"):
            if isinstance(given.get(key), str):
                return f"{name} {given[key][:TEXT_WIDTH]}"
    return f"{name} {json.dumps(given, sort_keys=True)[:TEXT_WIDTH]}"


def text_of(value: Any) -> str:
    """A tool result's content as text (a string, or a list of text blocks)."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "\n".join(str(block.get("text", "")) for block in value if isinstance(block, Mapping))
    return ""
