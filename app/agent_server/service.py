"""The AgentService gRPC servicer: validates requests and streams a job's events from the caller's cursor."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import grpc

from app.agent_client.proto import agent_pb2 as pb
from app.agent_client.proto import agent_pb2_grpc as pb_grpc
from app.agent_client.protocol import COMMAND_NAMES, PROTOCOL, issue_key_problem, job_id_problem
from app.agent_server.jobs import ACTIVE
from app.agent_server.registry import Draining, JobConflict, JobRegistry

log = logging.getLogger(__name__)
FOLLOW_TICK = 1.0  # how often a quiet stream checks that its caller is still there


class AgentService(pb_grpc.AgentServiceServicer):
    """Execute, Cancel and Ping over a JobRegistry."""

    def __init__(self, registry: JobRegistry, agent_id: str, profile: str) -> None:
        self.registry = registry
        self.agent_id = agent_id
        self.profile = profile

    def Execute(self, request: pb.ExecuteRequest, context: grpc.ServicerContext) -> Iterator[pb.ExecuteEvent]:
        """Start or re-attach to the job, replay what the caller missed, then follow it to its result."""
        problem = request_problem(request)
        if problem:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)
        try:
            job = self.registry.attach(request)
        except JobConflict as err:
            context.abort(grpc.StatusCode.FAILED_PRECONDITION, str(err))
        except Draining as err:  # UNAVAILABLE: the caller retries, on another agent or on this one restarted
            context.abort(grpc.StatusCode.UNAVAILABLE, str(err))
        log.info("agent.execute job=%s command=%s after_seq=%s", job.job_id, job.command, request.after_seq)
        cursor = request.after_seq
        while context.is_active():
            events = job.events_after(cursor, FOLLOW_TICK)
            for event in events:
                yield event
                cursor = event.seq
                if event.HasField("result"):
                    return
            if not events and job.state not in ACTIVE:
                # Ended and nothing after the cursor: the stream still ends with the result (a caller whose
                # cursor already passed it gets it again); an interrupted job has none, and the caller retries.
                final = job.final_event()
                if final is not None:
                    yield final
                return

    def Cancel(self, request: pb.CancelRequest, context: grpc.ServicerContext) -> pb.CancelResponse:
        """Stop the job and answer once its processes are gone."""
        state = self.registry.cancel(request.job_id)
        log.info("agent.cancel job=%s reason=%s state=%s", request.job_id, request.reason[:200], state)
        return pb.CancelResponse(state=state)  # type: ignore[arg-type]

    def Ping(self, request: pb.PingRequest, context: grpc.ServicerContext) -> pb.PingResponse:
        """Who this agent is and what it runs."""
        return pb.PingResponse(
            nonce=request.nonce,
            agent_id=self.agent_id,
            protocol=PROTOCOL,
            profile=self.profile,
            running_jobs=self.registry.running(),
        )


def request_problem(request: pb.ExecuteRequest) -> str | None:
    """Why a request can never run, or None."""
    if request.command not in COMMAND_NAMES:
        return "command is missing or unknown"
    problem = job_id_problem(request.job_id) or issue_key_problem(request.issue_key)
    if problem:
        return problem
    if request.context:
        try:
            context = json.loads(request.context)
        except ValueError:
            return "context must be a JSON object"
        if not isinstance(context, dict):
            return "context must be a JSON object"
    return None
