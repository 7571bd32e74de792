"""Claude Code (`claude -p --output-format stream-json --verbose`): its stream-json events as log lines.

Run by the `claude` profile as `{python} -m app.agent_server.cli_streams.claude ... -- claude -p ...`. Events
(one JSON object a line): `system`/`init`, `assistant` messages (text and `tool_use` blocks), `user` messages
(`tool_result` blocks), and one final `result` (`subtype`, `is_error`, `result`, `num_turns`, `total_cost_usd`).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from app.agent_client.coding_clis import CODING_CLIS
from app.agent_server.cli_streams.stream import Said, first_lines, text_of, tool_call
from app.agent_server.cli_streams.wrapper import CliTool, run


def parse(event: Mapping[str, Any]) -> Said:
    """One stream-json event's meaning."""
    kind = event.get("type")
    if kind == "system" and event.get("subtype") == "init":
        return Said((("init", f"session {event.get('session_id', '?')}, model {event.get('model', '?')}"),))
    if kind in ("assistant", "user"):
        message = event.get("message")
        content = message.get("content") if isinstance(message, Mapping) else None
        blocks = [_block(block) for block in content or () if isinstance(block, Mapping)]
        return Said(tuple(line for line in blocks if line[0]))
    if kind == "result":
        failed = bool(event.get("is_error")) or event.get("subtype") != "success"
        text = str(event.get("result") or "")
        cost = event.get("total_cost_usd")
        facts = f"{event.get('subtype', '?')} after {event.get('num_turns', '?')} turns" + (
            f", ${cost:.4f}" if isinstance(cost, int | float) else ""
        )
        error = (text or str(event.get("subtype"))) if failed else None
        return Said((("result", facts),), final=text, error=error, failed=failed)
    return Said()


def _block(block: Mapping[str, Any]) -> tuple[str, str]:
    kind = block.get("type")
    if kind == "text" and str(block.get("text", "")).strip():
        return ("message", str(block["text"]))
    if kind == "tool_use":
        return ("tool", tool_call(str(block.get("name", "?")), block.get("input")))
    if kind == "tool_result":
        stage = "tool-error" if block.get("is_error") else "tool-result"
        return (stage, first_lines(text_of(block.get("content"))))
    return ("", "")


def writable_dir(folder: Path) -> list[str]:
    """Let Claude Code write the result file, which is outside the worktree."""
    return ["--add-dir", str(folder)]


CLAUDE = CliTool("claude", CODING_CLIS["claude"].env_prefixes, parse, writable_dir)

if __name__ == "__main__":
    sys.exit(run(CLAUDE, sys.argv[1:]))
