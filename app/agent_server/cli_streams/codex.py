"""OpenAI Codex (`codex exec --json -`): its JSONL events as log lines.

Run by the `codex` profile as `{python} -m app.agent_server.cli_streams.codex ... -- codex exec --json ...`; the
wrapper appends `-` so Codex reads the prompt from stdin. Events: `thread.started`, `turn.started`,
`item.started`/`item.updated`/`item.completed` (items `agent_message`, `reasoning`, `command_execution`,
`file_change`, `mcp_tool_call`, `web_search`, `todo_list`, `error`), `turn.completed` (token usage), `turn.failed`
and `error`.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

from app.agent_client.coding_clis import CODING_CLIS
from app.agent_server.cli_streams.stream import Said, first_lines
from app.agent_server.cli_streams.wrapper import CliTool, run


def parse(event: Mapping[str, Any]) -> Said:
    """One JSONL event's meaning."""
    kind = event.get("type")
    item = event.get("item")
    if kind == "thread.started":
        return Said((("init", f"thread {event.get('thread_id', '?')}"),))
    if kind == "item.started" and isinstance(item, Mapping) and item.get("type") == "command_execution":
        return Said((("tool", f"$ {item.get('command', '')}"),))
    if kind == "item.completed" and isinstance(item, Mapping):
        return _item(item)
    if kind == "turn.completed":
        usage = event.get("usage")
        tokens = usage if isinstance(usage, Mapping) else {}
        facts = f"turn completed: {tokens.get('input_tokens', '?')} tokens in, {tokens.get('output_tokens', '?')} out"
        return Said((("result", facts),))
    if kind == "turn.failed":
        error = event.get("error")
        message = str(error.get("message", "")) if isinstance(error, Mapping) else "the turn failed"
        return Said((("error", message),), error=message, failed=True)
    if kind == "error":
        # Also sent for a reconnect that may still succeed: only turn.failed or the exit code fail the run.
        message = str(event.get("message", ""))
        return Said((("error", message),), error=message)
    return Said()


def _item(item: Mapping[str, Any]) -> Said:
    kind = item.get("type")
    text = str(item.get("text", ""))
    if kind == "agent_message":
        return Said((("message", text),), final=text)
    if kind == "reasoning":
        return Said((("reasoning", text),))
    if kind == "command_execution":
        output = first_lines(str(item.get("aggregated_output", "")))
        return Said((("tool-result", f"exit {item.get('exit_code', '?')}" + (f"\n{output}" if output else "")),))
    if kind == "file_change":
        changes = item.get("changes") or []
        named = ", ".join(f"{c.get('kind', '?')} {c.get('path', '?')}" for c in changes if isinstance(c, Mapping))
        return Said((("tool", f"edit {named}"),))
    if kind == "mcp_tool_call":
        return Said((("tool", f"{item.get('server', '?')}.{item.get('tool', '?')}"),))
    if kind == "web_search":
        return Said((("tool", f"web search {item.get('query', '')}"),))
    if kind == "todo_list":
        steps = item.get("items") or []
        listed = [
            f"[{'x' if s.get('completed') else ' '}] {s.get('text', '')}" for s in steps if isinstance(s, Mapping)
        ]
        return Said((("plan", "\n".join(listed)),))
    if kind == "error":
        message = str(item.get("message", ""))
        return Said((("error", message),), error=message)
    return Said()


CODEX = CliTool("codex", CODING_CLIS["codex"].env_prefixes, parse, writable_dir=None, stdin_argument=("-",))

if __name__ == "__main__":
    sys.exit(run(CODEX, sys.argv[1:]))
