"""User commands: `users add --account-id ID --name NAME` (prints the personal token once), `users list|revoke`."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from app.config import Settings


def register(subparsers: Any) -> None:
    """Add the users sub-commands."""
    users = subparsers.add_parser("users", help="named users and their personal tokens (API bearer, console login)")
    verbs = users.add_subparsers(dest="users_command", required=True, metavar="ACTION")
    p = verbs.add_parser("add", help="add a user mapped to a Jira account id and print their token (shown once)")
    p.add_argument("--account-id", required=True, help="the person's Jira account id (approvals are checked on it)")
    p.add_argument("--name", required=True, help="a short unique name, shown as the actor")
    p.set_defaults(handler=_with_service(add))
    p = verbs.add_parser("list", help="every user, revoked ones marked")
    p.set_defaults(handler=_with_service(list_users))
    p = verbs.add_parser("revoke", help="revoke a user's token at once (API calls and console sessions stop)")
    p.add_argument("name", metavar="NAME")
    p.set_defaults(handler=_with_service(revoke))


def _with_service(command: Callable[[Any, argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Run a command with the users service; a refused change is one line and exit code 1."""
    from app.services.users import UserError, UserService
    from app.store.db import make_engine, make_session_factory

    def run(args: argparse.Namespace) -> int:
        engine = make_engine(Settings.from_env().database_url)
        try:
            return command(UserService(make_session_factory(engine)), args)
        except UserError as err:
            print(f"orchestrator: {err}")
            return 1
        finally:
            engine.dispose()

    return run


def add(service: Any, args: argparse.Namespace) -> int:
    """Add a user and print the token once."""
    user, token = service.add(args.name.strip(), args.account_id.strip())
    print(f"user {user.name} (Jira account {user.account_id}) added. Their personal token, shown only this once:")
    print(f"  {token}")
    print("Use it as `Authorization: Bearer <token>` on the API, or to log in to the dashboard.")
    return 0


def list_users(service: Any, _args: argparse.Namespace) -> int:
    """Print every user."""
    users = service.list()
    if not users:
        print("no users yet (orchestrator users add --account-id ID --name NAME)")
    for user in users:
        state = f"revoked {user.revoked_at:%Y-%m-%d %H:%M}" if user.revoked_at else "active"
        print(f"{user.name}  account {user.account_id}  token issued {user.created_at:%Y-%m-%d %H:%M}  {state}")
    return 0


def revoke(service: Any, args: argparse.Namespace) -> int:
    """Revoke a user's token."""
    user = service.revoke(args.name.strip())
    print(f"{user.name}'s token is revoked")
    return 0
