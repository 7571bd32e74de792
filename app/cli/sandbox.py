"""`orchestrator sandbox ...`: run the sandbox Jira, and act on it as a person (label, comment, transition, show)."""

from __future__ import annotations

import argparse
import signal
from typing import Any

from app.config import Settings


def register(subparsers: Any) -> None:
    """Add `sandbox` and its sub-commands."""
    sandbox = subparsers.add_parser("sandbox", help="the local sandbox Jira (when JIRA_BASE_URL is unset)")
    commands = sandbox.add_subparsers(dest="sandbox_command", required=True, metavar="SANDBOX_COMMAND")
    p = commands.add_parser("serve", help="run the sandbox Jira (REST API, web page, webhooks)")
    p.add_argument("--reset", action="store_true", help="start again from the seeded issues")
    p.set_defaults(handler=serve)
    p = commands.add_parser("label", help="add (or --remove) a label as a person")
    p.add_argument("issue_key", metavar="ISSUE-KEY")
    p.add_argument("label")
    p.add_argument("--remove", action="store_true", help="remove the label instead")
    _as_user(p, "reporter")
    p.set_defaults(handler=act, action="label")
    p = commands.add_parser("comment", help="comment as a person (e.g. /approve)")
    p.add_argument("issue_key", metavar="ISSUE-KEY")
    p.add_argument("text")
    _as_user(p, "reviewer")
    p.set_defaults(handler=act, action="comment")
    p = commands.add_parser("transition", help="move an issue to a status (by name) as a person")
    p.add_argument("issue_key", metavar="ISSUE-KEY")
    p.add_argument("status")
    _as_user(p, "reporter")
    p.set_defaults(handler=act, action="transition")
    p = commands.add_parser("create", help="create an issue (in DEMO, or --project OPS) as a person")
    p.add_argument("summary")
    p.add_argument("--project", default="DEMO", help="the project's key: DEMO (default) or OPS")
    p.add_argument("--description", default="")
    p.add_argument("--label", action="append", default=[], help="a label to start with (repeatable)")
    _as_user(p, "reporter")
    p.set_defaults(handler=act, action="create")
    p = commands.add_parser("show", help="print an issue: status, labels, links, comments")
    p.add_argument("issue_key", metavar="ISSUE-KEY")
    p.set_defaults(handler=act, action="show", user="reporter")


def _as_user(parser: argparse.ArgumentParser, default: str) -> None:
    parser.add_argument(
        "--as", dest="user", default=default, help=f"reviewer, reporter, outsider or bot (default {default})"
    )


def serve(args: argparse.Namespace) -> int:
    """Run the sandbox in the foreground until Ctrl-C."""
    from app.config.logs import configure_logging
    from app.sandbox.server import SandboxConfig, SandboxServer

    settings = Settings.from_env()
    configure_logging(settings.log_level)
    if not settings.jira.uses_sandbox:
        print(f"orchestrator: JIRA_BASE_URL is set ({settings.jira.url}); the sandbox Jira is not needed")
        return 2
    server = SandboxServer(SandboxConfig.from_settings(settings))
    if args.reset:
        server.store.reset()
    print(f"sandbox Jira on {server.url} (page: {server.url}/), webhooks to {server.config.delivery.url}", flush=True)
    signal.signal(signal.SIGTERM, _interrupt)  # honcho stops processes with SIGTERM: shut down cleanly
    server.serve_forever()
    return 0


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def act(args: argparse.Namespace) -> int:
    """Do one thing on the running sandbox as `--as USER`, and say what happened."""
    from app.sandbox.people import SandboxPerson, SandboxUnavailable

    settings = Settings.from_env()
    try:
        person = SandboxPerson(settings.jira.url, args.user)
        if args.action == "show":
            print(person.show(args.issue_key))
        elif args.action == "comment":
            print(f"{args.issue_key}: comment {person.comment(args.issue_key, args.text)} added as {person.name}")
        elif args.action == "label":
            person.label(args.issue_key, args.label, remove=args.remove)
            print(f"{args.issue_key}: label {args.label} {'removed' if args.remove else 'added'} by {person.name}")
        elif args.action == "transition":
            person.transition(args.issue_key, args.status)
            print(f"{args.issue_key}: moved to {args.status} by {person.name}")
        else:
            key = person.create(args.summary, args.description, args.label, args.project.upper())
            print(f"{key} created by {person.name}")
    except SandboxUnavailable as err:
        print(f"orchestrator: {err}")
        return 1
    return 0
