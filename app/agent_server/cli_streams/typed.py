"""The typed result a coding CLI is asked for: the instruction added to its prompt, and reading its answer."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from app.agent_client.protocol import PHASE_COMMANDS

# The last ```json fenced block of the final message: the answer of a CLI that cannot write files (plan mode).
_FENCED = re.compile(r"```json\s*\n(.*?)\n```", re.DOTALL)


def phase_key(command: str) -> str | None:
    """The result document's section for a command (`CODE` → `code`); None for commands without one."""
    return command.lower() if command in PHASE_COMMANDS else None


def instruction(command: str, schema: Path, result_path: Path | None) -> str:
    """What is added to the prompt: write the phase's result document (to a file when the CLI can)."""
    key = phase_key(command)
    if key is None:
        return ""
    where = (
        f"Write it as a JSON file to {result_path}. If you cannot write files in this mode, "
        if result_path is not None
        else ""
    )
    return (
        "\n\nWhen you are done, report the result document of this phase: a JSON object meeting the JSON Schema "
        f'in {schema}, with "version": 1 and only the "{key}" section filled from the work you really did.\n'
        f"Result file: {result_path or '-'}\nPhase key: {key}\n"
        f"{where}end your final message with it in a ```json fenced block."
    )


def read_typed(command: str, result_path: Path | None, final_message: str) -> dict[str, Any] | None:
    """The CLI's result document: its file if it wrote one, else the last ```json block of its final message.

    The document is passed on as written: the orchestrator's dispatch activity checks it against the schema."""
    if phase_key(command) is None:
        return None
    candidates = []
    if result_path is not None and result_path.is_file():
        candidates.append(result_path.read_text(errors="replace"))
    candidates.extend(reversed(_FENCED.findall(final_message)))
    for raw in candidates:
        try:
            document = json.loads(raw)
        except ValueError:
            continue
        if isinstance(document, dict):
            return document
    return None
