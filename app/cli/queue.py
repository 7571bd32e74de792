"""Queue and agent commands: `queue show|remove|move|pause|resume`, `agents`, `agents add`."""

from __future__ import annotations

import argparse
import getpass
from collections.abc import Callable
from typing import Any

from app.config import ConfigError, Settings


def register(subparsers: Any) -> None:
    """Add the queue and agents sub-commands."""
    queue = subparsers.add_parser("queue", help="show and manage a Jira project's agent job queue")
    verbs = queue.add_subparsers(dest="queue_command", required=True, metavar="ACTION")
    p = verbs.add_parser("show", help="the project's executing and queued jobs")
    p.add_argument("project", metavar="PROJECT")
    p.set_defaults(handler=_guarded(show))
    p = verbs.add_parser("remove", help="take a queued job out of the queue (its run is told and blocks)")
    p.add_argument("job_id", metavar="JOB")
    p.set_defaults(handler=_guarded(remove))
    p = verbs.add_parser("move", help="move a queued job to a position of its project's queue (1 = next)")
    p.add_argument("job_id", metavar="JOB")
    p.add_argument("position", metavar="POSITION", type=int)
    p.set_defaults(handler=_guarded(move))
    for verb in ("pause", "resume"):
        p = verbs.add_parser(verb, help=f"{verb} the project's queue (a running job is never interrupted)")
        p.add_argument("project", metavar="PROJECT")
        p.set_defaults(handler=_guarded(pause if verb == "pause" else resume))
    agents = subparsers.add_parser("agents", help="list the agents and their health (or add one)")
    actions = agents.add_subparsers(dest="agents_command", metavar="ACTION")
    p = actions.add_parser("add", help="register an agent by address, or bring a known one back online")
    p.add_argument("address", metavar="HOST:PORT")
    p.add_argument("--roles", default=None, help="comma-separated roles it takes (default: any job)")
    p.set_defaults(handler=_guarded(add_agent))
    agents.set_defaults(handler=_guarded(list_agents))


def _service() -> Any:
    from app.services.queue import QueueService
    from app.store.db import make_engine, make_session_factory
    from app.temporal.gateway import TemporalGateway

    settings = Settings.from_env()
    return QueueService(
        settings, make_session_factory(make_engine(settings.database_url)), TemporalGateway(settings.temporal)
    )


def _guarded(command: Callable[[Any, argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Run a command with the service; a refused change or an outage is one line and exit code 1."""
    from app.jobqueue.edits import QueueError
    from app.services.queue import NoJob
    from app.temporal.gateway import TemporalUnavailable

    def run(args: argparse.Namespace) -> int:
        service = _service()
        try:
            return command(service, args)
        except (QueueError, NoJob, TemporalUnavailable) as err:
            print(f"orchestrator: {err}")
            return 1
        except ConfigError as err:  # a malformed agent address
            print(f"orchestrator: {err}")
            return 2
        finally:
            service.temporal.close()

    return run


def _actor() -> str:
    return f"cli:{getpass.getuser()}"


def show(service: Any, args: argparse.Namespace) -> int:
    """Print the executing and queued jobs."""
    view = service.show(args.project.upper())
    print(f"queue {view.project_key}: {'PAUSED' if view.paused else 'running'}")
    print(f"  executing ({len(view.executing)}):")
    for job in view.executing:
        print(f"    {job.job_id}  {job.issue_key} {job.phase}  on {job.agent_id}  since {job.started_at}")
    print(f"  queued ({len(view.queued)}), in the order they will run:")
    for job in view.queued:
        print(f"    #{job.position} {job.job_id}  {job.issue_key} {job.phase}  {job.queue_kind}")
    return 0


def remove(service: Any, args: argparse.Namespace) -> int:
    """Remove a queued job."""
    ref = service.remove(args.job_id, _actor())
    print(f"removed {ref.job_id} from the {ref.project_key} queue; the run of {ref.issue_key} was told")
    return 0


def move(service: Any, args: argparse.Namespace) -> int:
    """Move a queued job."""
    position = service.move(args.job_id, args.position)
    print(f"{args.job_id} is now #{position} in its queue")
    return 0


def pause(service: Any, args: argparse.Namespace) -> int:
    """Pause a project's queue."""
    changed = service.set_paused(args.project.upper(), True, _actor())
    print(f"queue {args.project.upper()} {'paused' if changed else 'was already paused'}")
    return 0


def resume(service: Any, args: argparse.Namespace) -> int:
    """Resume a project's queue."""
    changed = service.set_paused(args.project.upper(), False, _actor())
    print(f"queue {args.project.upper()} {'resumed' if changed else 'was not paused'}")
    return 0


def list_agents(service: Any, _args: argparse.Namespace) -> int:
    """Print every agent with its health."""
    agents = service.agents()
    if not agents:
        print("no agents registered (set AGENT_ADDRESSES, or run: orchestrator agents add HOST:PORT)")
    for agent in agents:
        health = f"{agent.consecutive_failures} failed check(s)" if agent.consecutive_failures else "healthy"
        job = f", running {agent.running_job}" if agent.running_job else ""
        roles = ",".join(agent.roles) or "any"
        print(
            f"{agent.agent_id}  {agent.status}  {health}  roles={roles}  last seen {agent.last_seen_at or 'never'}{job}"
        )
        if agent.last_error:
            print(f"    last error: {agent.last_error}")
    return 0


def add_agent(service: Any, args: argparse.Namespace) -> int:
    """Register (or bring back) an agent."""
    roles = [r for r in args.roles.split(",")] if args.roles is not None else None
    agent = service.add_agent(args.address, roles)
    print(f"agent {agent.agent_id} is {agent.status}; its queue monitor and health check are scheduled")
    return 0
