"""The `orchestrator` command: one sub-command module per concern, each with a `register(subparsers)`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from app.cli import agent, ops, queue, runs, sandbox, users
from app.cli.process_exit import run_and_exit
from app.config import ConfigError

# Each module adds its sub-commands; a handler takes the parsed args and returns an exit code.
COMMAND_MODULES = [ops, runs, sandbox, agent, queue, users]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every sub-command."""
    parser = argparse.ArgumentParser(prog="orchestrator", description="Jira Orchestrator")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    """Parse arguments, run the command, exit with its code; a bad setting is one line, not a traceback."""
    args = build_parser().parse_args(argv)
    try:
        code = args.handler(args)
    except ConfigError as err:
        print(f"orchestrator: configuration error: {err}", file=sys.stderr)
        code = 2
    except KeyboardInterrupt:
        code = 130
    sys.exit(code)


def entry() -> None:
    """The console script: `main`, then an exit that skips interpreter teardown once everything is flushed."""
    run_and_exit(main)
