"""Run a coding CLI for one job: prompt on stdin, its JSON events as `[stage] text` lines, its end as a result file.

A profile runs `{python} -m app.agent_server.cli_streams.<cli> --command {command} --output <key> --result-file
{result_file} --result-schema {result_schema} -- <the CLI's argv>`. The agent hands this wrapper the prompt on stdin
and kills its process group (the CLI included) on cancel or timeout, as for any command.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from app.agent_server.cli_streams.failures import failure_kind
from app.agent_server.cli_streams.stream import Said, log_lines
from app.agent_server.cli_streams.typed import instruction, read_typed

# What the CLI may see of the job's environment: the basics, proxies and CA bundles, the git identity, and its own
# variables (its key under its own name). Never the job's git or forge credentials (AGENT_GIT_TOKEN, GIT_ASKPASS).
BASE_ENV = frozenset(
    {
        *("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "USER", "LOGNAME", "SHELL", "TERM"),
        *("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy"),
        *("NODE_EXTRA_CA_CERTS", "SSL_CERT_FILE", "SSL_CERT_DIR"),
        *("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL"),
    }
)
ERROR_TAIL = 40  # stderr lines kept to tell why the CLI failed
NOT_FOUND = 127


@dataclass(frozen=True)
class CliTool:
    """One coding CLI: its variables, its event parser, and how it is told where it may write the result."""

    name: str
    env_prefixes: tuple[str, ...]
    parse: Callable[[Mapping[str, Any]], Said]
    writable_dir: Callable[[Path], list[str]] | None = None  # None: it cannot write the result file (fenced block)
    stdin_argument: tuple[str, ...] = ()  # appended so the CLI reads its prompt from stdin


@dataclass
class _Seen:
    final: str = ""
    failed: bool = False
    errors: list[str] = field(default_factory=list)
    stderr: deque[str] = field(default_factory=lambda: deque(maxlen=ERROR_TAIL))


def cli_env(environ: Mapping[str, str], prefixes: tuple[str, ...]) -> dict[str, str]:
    """The part of the job's environment the CLI gets."""
    return {k: v for k, v in environ.items() if k in BASE_ENV or k.startswith(prefixes)}


def run(tool: CliTool, argv: list[str]) -> int:
    """Run the CLI once; write the result file; the exit code is 0 on success, else non-zero."""
    args = _arguments(tool, argv)
    result_file = Path(args.result_file)
    typed_file = result_file.with_name("typed-result.json") if tool.writable_dir else None
    if typed_file is not None:
        typed_file.unlink(missing_ok=True)
    extra = tool.writable_dir(result_file.parent) if tool.writable_dir else []
    command = [*args.cli, *extra, *tool.stdin_argument]
    extra_text = f"\n\n{args.append}" if args.append else ""
    prompt = sys.stdin.read() + extra_text + instruction(args.command, Path(args.result_schema), typed_file)
    # This wrapper's environment is the job's (the agent built it); it only narrows it for the CLI.
    env = cli_env(os.environ, tool.env_prefixes)
    try:
        proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    except OSError as err:
        message = f"could not start {command[0]!r}: {err.strerror or err} (install it: docs/agents.md)"
        return _finish(result_file, args.output, exit_code=NOT_FOUND, kind="AGENT_CRASHED", message=message)
    seen = _Seen()
    threads = [
        threading.Thread(target=_feed, args=(proc.stdin, prompt), daemon=True),
        threading.Thread(target=_stderr, args=(proc.stderr, seen), daemon=True),
    ]
    for thread in threads:
        thread.start()
    _events(tool, proc.stdout, seen)
    code = proc.wait()
    for thread in threads:
        thread.join(timeout=5)
    typed = read_typed(args.command, typed_file, seen.final)
    if code == 0 and not seen.failed:
        _print("result", seen.final or "(no final message)")
        return _finish(result_file, args.output, exit_code=0, final=seen.final, typed=typed)
    kind, reason = failure_kind([*seen.errors, *seen.stderr])
    # The error the CLI reported in its stream says most; its stderr's last line otherwise (it also chats there).
    said = next((text for text in reversed([*seen.stderr, *seen.errors]) if text.strip()), f"exit code {code}")
    message = f"{reason}: {said.strip().splitlines()[0][:500]}"
    return _finish(result_file, args.output, exit_code=code or 1, kind=kind, message=message, typed=typed)


def _arguments(tool: CliTool, argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=f"cli_streams.{tool.name}")
    parser.add_argument("--command", required=True, help="the protocol command (EXPLORE, ..., DOCUMENT)")
    parser.add_argument("--output", default="", help="the outputs key that gets the final message")
    parser.add_argument("--append", default="", help="instructions added to the prompt (for CLIs without a flag)")
    parser.add_argument("--result-file", required=True)
    parser.add_argument("--result-schema", required=True)
    parser.add_argument("cli", nargs=argparse.REMAINDER, help="-- then the CLI's argv")
    args = parser.parse_args(argv)
    args.cli = args.cli[1:] if args.cli[:1] == ["--"] else args.cli
    if not args.cli:
        parser.error("give the CLI's argv after --")
    return args


def _events(tool: CliTool, stream: IO[bytes] | None, seen: _Seen) -> None:
    for raw in iter(stream.readline, b"") if stream is not None else ():
        line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
        try:
            event = json.loads(line)
        except ValueError:
            event = None
        if not isinstance(event, dict):
            _print("output", line)  # not an event: shown as it is
            continue
        said = tool.parse(event)
        for stage, text in said.lines:
            _print(stage, text)
        seen.final = said.final if said.final is not None else seen.final
        seen.failed = seen.failed or said.failed
        if said.error:
            seen.errors.append(said.error)


def _stderr(stream: IO[bytes] | None, seen: _Seen) -> None:
    for raw in iter(stream.readline, b"") if stream is not None else ():
        line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
        seen.stderr.append(line)
        print(line, file=sys.stderr, flush=True)


def _feed(stream: IO[bytes] | None, text: str) -> None:
    if stream is None:
        return
    try:
        with stream:
            stream.write(text.encode())
    except OSError:
        pass  # the CLI exited without reading its stdin: its exit code says why


def _print(stage: str, text: str) -> None:
    print("\n".join(log_lines(stage, text)), flush=True)


def _finish(
    result_file: Path,
    output: str,
    *,
    exit_code: int,
    final: str = "",
    kind: str = "",
    message: str = "",
    typed: dict[str, Any] | None = None,
) -> int:
    document: dict[str, Any] = {"summary": message or (final.strip().splitlines() or [""])[0][:200]}
    if output and final:
        document["outputs"] = {output: final}
    if kind:
        document["error_kind"] = kind
        _print("error", message)
    if typed is not None:
        document["result"] = typed
    result_file.write_text(json.dumps(document))
    return exit_code
