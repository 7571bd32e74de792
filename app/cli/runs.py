"""Commands about one issue's run: start, status, and the steering verbs (same calls as the HTTP API)."""

from __future__ import annotations

import argparse
import getpass
import json
from typing import Any

from app.config import Settings
from app.temporal.control import COMMANDS, UPDATE_VERBS


def register(subparsers: Any) -> None:
    """Add the run sub-commands."""
    p = subparsers.add_parser("start", help="start the orchestration of an issue (like adding the trigger label)")
    p.add_argument("issue_key", metavar="ISSUE-KEY")
    p.set_defaults(handler=start)
    p = subparsers.add_parser("status", help="show the state of an issue's orchestration")
    p.add_argument("issue_key", metavar="ISSUE-KEY")
    p.add_argument("--json", action="store_true", help="print the whole state as JSON")
    p.set_defaults(handler=status)
    for verb in UPDATE_VERBS:
        command = COMMANDS[verb]
        p = subparsers.add_parser(verb, help=f"{command.help} (as an operator)")
        p.add_argument("issue_key", metavar="ISSUE-KEY")
        if command.text_field:
            p.add_argument("text", nargs="*", help=command.text_help)
        p.set_defaults(handler=steer, verb=verb)


def _service() -> Any:
    from app.services.orchestrations import OrchestrationService
    from app.temporal.gateway import TemporalGateway

    settings = Settings.from_env()
    return OrchestrationService(settings, TemporalGateway(settings.temporal))


def start(args: argparse.Namespace) -> int:
    """Start `orchestration-<KEY>` (a live run is reported, not duplicated)."""
    from app.temporal.gateway import TemporalUnavailable
    from workflows.messages import Source

    try:
        started = _service().start(args.issue_key, f"cli:{getpass.getuser()}", Source.CLI)
    except TemporalUnavailable as err:
        print(f"orchestrator: {err}")
        return 1
    verb = "started" if started.created else "already running"
    print(f"{started.workflow_id} {verb} (run {started.run_id})")
    return 0


def status(args: argparse.Namespace) -> int:
    """Print the run's status, phase history and pending gate."""
    from app.temporal.control import NoRun
    from app.temporal.gateway import TemporalUnavailable

    try:
        state = _service().state(args.issue_key)
    except (NoRun, TemporalUnavailable) as err:
        print(f"orchestrator: {err}")
        return 1
    if args.json:
        print(json.dumps(state, indent=2, default=str))
        return 0
    print(f"{state['workflow_id']} (run {state['run_id']}): {state['status']} [{state['temporal_status']}]")
    print(f"  step: {state['step']}")
    if state["pending_gate"]:
        print(f"  waiting for approval after {state['pending_gate']}")
    for record in state["phases"]:
        approved = f", approved by {record['approved_by']}" if record["approved_by"] else ""
        print(f"  {record['phase']:<9} {record['outcome']:<10} attempts {record['attempts']}{approved}")
    if state["pr_url"]:
        print(f"  pull request: {state['pr_url']}")
    if state["failure"]:
        print(f"  failure ({state['failure']['cause']}): {state['failure']['message']}")
    return 0


def steer(args: argparse.Namespace) -> int:
    """Send approve/reject/pause/resume/cancel/retry and print whether it was accepted."""
    from app.temporal.control import NoRun
    from app.temporal.gateway import TemporalUnavailable

    text = " ".join(getattr(args, "text", []) or [])
    try:
        result = _service().command(args.issue_key, args.verb, f"cli:{getpass.getuser()}", text)
    except (NoRun, TemporalUnavailable) as err:
        print(f"orchestrator: {err}")
        return 1
    print(("accepted: " if result.accepted else "refused: ") + result.message)
    return 0 if result.accepted else 1
