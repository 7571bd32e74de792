"""A stand-in for the `claude` and `codex` CLIs, put first on PATH by tests: behaves as their docs say.

Claude Code: `claude -p --output-format stream-json --verbose ...` reads the prompt on stdin, prints stream-json
events (system/init, assistant text and tool_use, user tool_result, one result) and exits 0, or 1 with an error
result. Codex: `codex exec --json ... -` reads the prompt on stdin, prints JSONL events (thread.started,
turn.started, item.*, turn.completed or turn.failed) and exits 0, or 1. STAND_IN_CLI (claude/codex), STAND_IN_MODE
(normal, slow, crash, auth, rate) and STAND_IN_RECORD (a folder: each call's argv, environment, stdin and pid) are
set by the launcher the test writes, not by the agent.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

CLI = os.environ.pop("STAND_IN_CLI")
MODE = os.environ.pop("STAND_IN_MODE")
RECORD = Path(os.environ.pop("STAND_IN_RECORD"))
DOCUMENTS = {
    "explore": {"requirements": ["greet the reporter by name"], "affected_files": ["greeting.py"]},
    "plan": {"steps": [{"what": "add greet_issue()", "where": ["greeting.py"]}]},
    "code": {"files_changed": ["greeting.py"], "commits": ["DEMO-1 greet by name"]},
    "fix": {"changed": ["greeting.py"], "why": "the closing parenthesis was missing"},
    "document": {"docs_touched": ["CHANGELOG.md"], "changelog": "Greets by name."},
}


def emit(event: dict[str, object]) -> None:
    """One event line, flushed as the real CLIs stream them."""
    print(json.dumps(event), flush=True)


def main() -> int:
    """Act as the CLI named by STAND_IN_CLI."""
    prompt = sys.stdin.read()
    calls = RECORD / "calls.jsonl"
    call = {"cli": CLI, "argv": sys.argv[1:], "env": dict(os.environ), "stdin": prompt, "pid": os.getpid()}
    with calls.open("a") as out:
        out.write(json.dumps(call) + "\n")
    if CLI == "claude":
        return claude(prompt)
    return codex(prompt)


def answer(prompt: str, can_write: bool) -> str:
    """Do what the prompt's result instruction asks: write the result file, or end with a ```json block."""
    key = re.search(r"^Phase key: (\w+)$", prompt, re.MULTILINE)
    path = re.search(r"^Result file: (.+)$", prompt, re.MULTILINE)
    if key is None:
        return "Done."
    document = json.dumps({"version": 1, key.group(1): DOCUMENTS[key.group(1)]})
    if can_write and path is not None and path.group(1) != "-":
        Path(path.group(1)).write_text(document)
        return f"Done: wrote the result to {path.group(1)}."
    return f"Done.\n\n```json\n{document}\n```"


def slow() -> int:
    """Work forever, with a child process of its own (a cancel must end the whole group)."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    (RECORD / "pids").write_text(f"{os.getpid()}\n{child.pid}\n")
    time.sleep(600)
    return 0


def claude(prompt: str) -> int:
    """`claude -p` with stream-json output."""
    args = sys.argv[1:]
    if "-p" not in args or args[args.index("--output-format") + 1] != "stream-json":
        print("Error: expected -p --output-format stream-json", file=sys.stderr)
        return 1
    if "--verbose" not in args:
        print("Error: When using --print, --output-format=stream-json requires --verbose", file=sys.stderr)
        return 1
    emit({"type": "system", "subtype": "init", "session_id": "s-1", "model": "claude-sonnet-4-5", "tools": ["Bash"]})
    if MODE == "auth" or not os.environ.get("ANTHROPIC_API_KEY"):
        text = "Invalid API key · Please run /login"
        emit({"type": "result", "subtype": "success", "is_error": True, "result": text, "num_turns": 1})
        return 1
    if MODE == "rate":
        text = 'API Error: 429 {"type":"error","error":{"type":"rate_limit_error","message":"Rate limited"}}'
        emit({"type": "result", "subtype": "success", "is_error": True, "result": text, "num_turns": 1})
        return 1
    if MODE == "slow":
        return slow()
    emit(assistant([{"type": "text", "text": "Looking at the repository."}]))
    emit(assistant([{"type": "tool_use", "id": "t1", "name": "Bash", "input": {"command": "git status"}}]))
    result = {"type": "tool_result", "tool_use_id": "t1", "content": "On branch jira/DEMO-1\nnothing to commit"}
    emit({"type": "user", "message": {"role": "user", "content": [result]}})
    if MODE == "crash":
        print("TypeError: Cannot read properties of undefined (reading 'content')", file=sys.stderr)
        return 1
    final = answer(prompt, can_write="--add-dir" in args and "plan" not in args)
    emit(assistant([{"type": "text", "text": final}]))
    emit(
        {
            "type": "result",
            "subtype": "success",
            "is_error": False,
            "result": final,
            "num_turns": 3,
            "total_cost_usd": 0.0123,
            "session_id": "s-1",
        }
    )
    return 0


def assistant(content: list[dict[str, object]]) -> dict[str, object]:
    """An assistant message event."""
    return {"type": "assistant", "message": {"role": "assistant", "content": content}}


def codex(prompt: str) -> int:
    """`codex exec --json -`."""
    args = sys.argv[1:]
    if args[:1] != ["exec"] or "--json" not in args or args[-1] != "-":
        print("error: expected exec --json ... -", file=sys.stderr)
        return 2
    print("Reading prompt from stdin...", file=sys.stderr, flush=True)  # Codex chats on stderr
    emit({"type": "thread.started", "thread_id": "th-1"})
    emit({"type": "turn.started"})
    if MODE == "auth" or not (os.environ.get("CODEX_API_KEY") or os.environ.get("OPENAI_API_KEY")):
        message = "unexpected status 401 Unauthorized: Incorrect API key provided"
        emit({"type": "error", "message": message})
        emit({"type": "turn.failed", "error": {"message": message}})
        return 1
    if MODE == "rate":
        message = "exceeded retry limit, last status: 429 Too Many Requests"
        emit({"type": "turn.failed", "error": {"message": message}})
        return 1
    if MODE == "slow":
        return slow()
    emit({"type": "item.completed", "item": {"id": "i0", "type": "reasoning", "text": "**Reading the repo**"}})
    command = {"id": "i1", "type": "command_execution", "command": "bash -lc ls", "status": "in_progress"}
    emit({"type": "item.started", "item": {**command, "aggregated_output": ""}})
    emit(
        {
            "type": "item.completed",
            "item": {**command, "aggregated_output": "greeting.py\ntests\n", "exit_code": 0, "status": "completed"},
        }
    )
    if MODE == "crash":
        print("thread 'main' panicked at codex-rs/exec/src/lib.rs", file=sys.stderr)
        return 101
    change = {
        "id": "i2",
        "type": "file_change",
        "changes": [{"path": "greeting.py", "kind": "update"}],
        "status": "completed",
    }
    emit({"type": "item.completed", "item": change})
    emit({"type": "item.completed", "item": {"id": "i3", "type": "agent_message", "text": answer(prompt, False)}})
    emit({"type": "turn.completed", "usage": {"input_tokens": 2400, "cached_input_tokens": 0, "output_tokens": 120}})
    return 0


if __name__ == "__main__":
    sys.exit(main())
