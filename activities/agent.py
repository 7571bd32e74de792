"""Agent activities: dispatch a command to a gRPC agent and follow it, ping agents, hand out credential references.

Credentials: workflow history only ever holds references (`git:default`, `agent:default`). The dispatch activity
resolves them from this worker's configuration into the gRPC request right before the call, so the secret values
travel only inside the request (TLS when configured) and live only in the agent's memory for the job. We chose
references over a payload codec because a codec still stores every secret in history (encrypted, with a key every
client must share, and unreadable in the Temporal UI for the rest of the input), while a reference stores nothing
and picks up a rotated secret on the next attempt. Secret values are masked in stored logs and outcomes too.

Outcomes: success, TESTS_FAILED, CANCELLED (the agent's own cancel) and TIMEOUT come back as an AgentOutcome the
workflow branches on. Results are capped (app/agent_client/result_caps.py) and the outcome is measured as Temporal
encodes it: one that would not fit in workflow history is an INVALID_RESULT failure that says so, never a failed
workflow task. A request or answer over gRPC's message size limit is a non-retryable ValidationError.
Failures are raised as ApplicationError types: `AgentCrashed` and `AgentUnavailable` (retryable: the retry
re-attaches, or reruns a crashed job), `ValidationError`, `AuthenticationError` (the agent refused our token) and
`PermissionDenied` (the job's remote refused the agent's credentials), all non-retryable.
"""

from __future__ import annotations

import logging
import time

import grpc
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity
from temporalio.converter import DataConverter
from temporalio.exceptions import ApplicationError, CancelledError

from activities.agent_stream import Beat, Cursor, LogBuffer, StreamEnd, StreamReader
from activities.agent_types import (
    EXECUTE_AGENT_JOB,
    GET_CREDENTIALS,
    AgentCommand,
    AgentOutcome,
    CredentialRefs,
    CredentialsRequest,
)
from app.agent_client import credentials as creds
from app.agent_client.client import AgentClient
from app.agent_client.proto import agent_pb2 as pb
from app.agent_client.protocol import COMMANDS, ERROR_KIND_NAMES
from app.agent_client.result_caps import MAX_OUTCOME_BYTES, MAX_REQUEST_BYTES, RESULT_DROPPED, cap_result
from app.agent_client.results import read_result
from app.config import AgentSettings
from app.jobqueue.liveness import record_heartbeat
from app.store.models import utcnow
from workflows.job_types import ErrorKind
from workflows.results import PHASE_KEYS, PhaseResult, ResultError

log = logging.getLogger(__name__)
AGENT_CRASHED = "AgentCrashed"
AGENT_UNAVAILABLE = "AgentUnavailable"
VALIDATION = "ValidationError"
AUTHENTICATION = "AuthenticationError"
PERMISSION_DENIED = "PermissionDenied"
TICK = 0.25  # how often the activity looks at cancellation while the stream is quiet
BEAT_EVERY = 1.0  # seconds between store-and-heartbeat rounds (the SDK throttles further)
# Seconds between the job's heartbeat stamps in the store (the stuck sweep reads them; JOB_STUCK_AFTER is an hour).
RECORD_EVERY = 30.0
CANCEL_DEADLINE = 30.0
AUTH_CODES = frozenset({grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED})
PAYLOADS = DataConverter.default.payload_converter  # the worker's converter (the default one)
BAD_REQUEST_CODES = frozenset(
    {grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.UNIMPLEMENTED}
)


class AgentActivities:
    """Talks to agents over gRPC with the shared token; stores every streamed log line in `job_logs`."""

    def __init__(
        self,
        agents: AgentSettings,
        token: str,
        session_factory: sessionmaker[Session],
        record_every: float = RECORD_EVERY,
    ) -> None:
        self.agents = agents
        self.token = token
        self.session_factory = session_factory
        self.secrets = (*agents.secrets, token)
        self.record_every = record_every

    @activity.defn(name=EXECUTE_AGENT_JOB, no_thread_cancel_exception=True)
    def execute_agent_job(self, command: AgentCommand) -> AgentOutcome:
        """Run (or re-attach to) the agent job and follow it to its result, heartbeating the resume cursor."""
        cursor = Cursor.from_details(activity.info().heartbeat_details)
        request = self._request(command, cursor)
        buffer = LogBuffer(self.session_factory, command.job_id, self.secrets)
        with AgentClient(command.agent_address, self.agents, self.token) as client:
            call = client.execute(request)
            try:
                result = self._follow(client, command, StreamReader(call), buffer, cursor)
            finally:
                call.cancel()  # type: ignore[attr-defined]
                buffer.flush()
        return self._outcome(command, result, buffer, cursor)

    def _request(self, command: AgentCommand, cursor: Cursor) -> pb.ExecuteRequest:
        if command.command not in COMMANDS:
            raise ApplicationError(f"unknown agent command {command.command!r}", type=VALIDATION, non_retryable=True)
        try:
            credentials = creds.resolve(command.credential_refs, self.agents)
        except creds.UnknownCredential as err:
            raise ApplicationError(str(err), type=VALIDATION, non_retryable=True) from None
        request = pb.ExecuteRequest(
            job_id=command.job_id,
            attempt=command.attempt,
            command=COMMANDS[command.command],
            issue_key=command.issue_key,
            phase=command.phase,
            roles=command.roles,
            prompt=command.prompt,
            context=command.context,
            credentials=credentials,
            after_seq=cursor.seq,
            rerun_failed=cursor.failed_seq > 0 and cursor.failed_seq == cursor.seq,
        )
        size = request.ByteSize()
        if size > MAX_REQUEST_BYTES:
            # The agent would refuse it (RESOURCE_EXHAUSTED) on every attempt: no retry can make it smaller.
            raise ApplicationError(
                f"the request for job {command.job_id} is {size} bytes (prompt {len(command.prompt)}, context "
                f"{len(command.context)} characters); an agent accepts at most {MAX_REQUEST_BYTES}",
                type=VALIDATION,
                non_retryable=True,
            )
        return request

    def _follow(
        self, client: AgentClient, command: AgentCommand, reader: StreamReader, buffer: LogBuffer, cursor: Cursor
    ) -> pb.Result:
        beat, stamp = Beat(BEAT_EVERY), Beat(self.record_every)
        while True:
            if activity.is_cancelled() or activity.is_worker_shutdown():
                self._stop(client, command, reader, buffer, cursor)
            item = reader.next(TICK)
            if isinstance(item, StreamEnd):
                buffer.flush()
                raise _stream_error(command, item.error)
            if item is not None:
                if item.HasField("result"):
                    buffer.flush()
                    cursor.seq = item.seq
                    return item.result
                buffer.add(item)
                cursor.seq = item.seq
            if beat.due():
                buffer.flush()  # the heartbeated cursor never runs ahead of what is stored
                activity.heartbeat(cursor)
                if stamp.due():
                    self._record_heartbeat(command)

    def _record_heartbeat(self, command: AgentCommand) -> None:
        # A command may print nothing for an hour: this stamp, not its log lines, tells the sweep it is followed.
        run_id = activity.info().workflow_run_id
        if run_id is None:
            return  # not called from a job workflow: no queue job to stamp
        try:
            with self.session_factory.begin() as session:
                record_heartbeat(session, command.job_id, run_id, utcnow())
        except SQLAlchemyError as err:  # a database blip must not fail the job; the next stamp tries again
            log.warning("agent.heartbeat-unrecorded job=%s error=%s", command.job_id, type(err).__name__)

    def _stop(
        self, client: AgentClient, command: AgentCommand, reader: StreamReader, buffer: LogBuffer, cursor: Cursor
    ) -> None:
        details = activity.cancellation_details()
        if details is not None and details.cancel_requested and not activity.is_worker_shutdown():
            try:
                state = client.cancel(command.job_id, "the workflow cancelled this job", timeout=CANCEL_DEADLINE).state
                log.info("agent.job-cancelled job=%s state=%s", command.job_id, pb.JobState.Name(state))
                _drain(reader, buffer, cursor)
            except grpc.RpcError as err:
                # The agent is unreachable: a restarted agent marks the job interrupted and nobody re-attaches.
                log.warning("agent.cancel-failed job=%s code=%s", command.job_id, err.code().name)
            buffer.flush()
            raise CancelledError("the agent job was cancelled")
        # Worker shutdown, heartbeat timeout, pause or reset: the agent keeps working, a retry re-attaches.
        buffer.flush()
        activity.heartbeat(cursor)
        raise ApplicationError(
            f"stopped following agent job {command.job_id}; it keeps running and a retry re-attaches",
            type=AGENT_UNAVAILABLE,
        )

    def _outcome(self, command: AgentCommand, result: pb.Result, buffer: LogBuffer, cursor: Cursor) -> AgentOutcome:
        result = cap_result(result, self.secrets)  # again here: an agent of another make may not cap what it sends
        kind = ERROR_KIND_NAMES.get(result.error_kind)
        message = creds.mask(result.error_message, self.secrets)
        if not result.success and kind == "BAD_REQUEST":
            raise ApplicationError(
                f"the agent refused {command.command}: {message}", type=VALIDATION, non_retryable=True
            )
        if not result.success and kind == "PERMISSION_DENIED":
            raise ApplicationError(message, kind, buffer.last_output(), type=PERMISSION_DENIED, non_retryable=True)
        if not result.success and kind in (None, "AGENT_CRASHED"):
            # Remember that this attempt saw the crash: the retry asks the agent to run the job again.
            activity.heartbeat(Cursor(cursor.seq, failed_seq=cursor.seq))
            raise ApplicationError(
                f"agent job {command.job_id} failed: {message}",
                kind or "AGENT_CRASHED",
                buffer.last_output(),
                type=AGENT_CRASHED,
            )
        summary, outputs = creds.mask(result.summary, self.secrets), creds.mask_map(result.outputs, self.secrets)
        try:
            typed = self._typed(command, result, outputs.pop(RESULT_DROPPED, ""))
        except ResultError as err:
            # Checked here, at the boundary: a malformed document fails the job with the reason, never the workflow.
            return _within_history(
                command,
                AgentOutcome(
                    success=False,
                    summary=summary,
                    outputs=outputs,
                    error_kind=ErrorKind.INVALID_RESULT,
                    error=f"the agent's {command.command} result does not meet the result schema: {err}",
                    last_output=buffer.last_output(),
                ),
            )
        return _within_history(
            command,
            AgentOutcome(
                success=result.success,
                summary=summary,
                outputs=outputs,
                error_kind=None if result.success else kind,
                error=None if result.success else message,
                last_output=buffer.last_output(),
                result=typed,
            ),
        )

    def _typed(self, command: AgentCommand, result: pb.Result, dropped: str) -> PhaseResult | None:
        if command.command not in PHASE_KEYS:
            return None  # the lifecycle commands (startExecution, runVerification, createPR) have no typed result
        if dropped:
            raise ResultError(dropped)
        return read_result(command.command, creds.mask(result.result, self.secrets))

    @activity.defn(name=GET_CREDENTIALS)
    def get_credentials(self, request: CredentialsRequest) -> CredentialRefs:
        """References to every configured credential (git and coding tool) for the job; never the values."""
        return CredentialRefs(creds.git_refs(self.agents) + creds.agent_refs(self.agents))


def _within_history(command: AgentCommand, outcome: AgentOutcome) -> AgentOutcome:
    """The outcome, or a failure that says why when it would not fit in workflow history."""
    # Measured as Temporal encodes it: JSON escapes non-ASCII text, so characters are no guide to bytes.
    size = len(PAYLOADS.to_payloads([outcome])[0].data)
    if size <= MAX_OUTCOME_BYTES:
        return outcome
    return AgentOutcome(
        success=False,
        summary=outcome.summary,
        error_kind=ErrorKind.INVALID_RESULT,
        error=f"the agent's {command.command} result is {size} bytes once encoded; at most {MAX_OUTCOME_BYTES} "
        "fit in workflow history, so its outputs and typed result were not kept",
        last_output=outcome.last_output,
    )


def _drain(reader: StreamReader, buffer: LogBuffer, cursor: Cursor, wait: float = 5.0) -> None:
    # Keep the job's last lines (the kill, the CANCELLED result) in the log before giving up the stream.
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        item = reader.next(TICK)
        if item is None:
            continue
        if isinstance(item, StreamEnd) or item.HasField("result"):
            break
        buffer.add(item)
        cursor.seq = item.seq
    buffer.flush()


def _stream_error(command: AgentCommand, error: grpc.RpcError | None) -> ApplicationError:
    if error is None:
        return ApplicationError(
            f"agent {command.agent_address} closed job {command.job_id}'s stream without a result (agent stopping?)",
            type=AGENT_UNAVAILABLE,
        )
    code: grpc.StatusCode = error.code()
    details = error.details() or code.name
    if code in AUTH_CODES:
        return ApplicationError(
            f"agent {command.agent_address} refused our token: {details}", type=AUTHENTICATION, non_retryable=True
        )
    if code in BAD_REQUEST_CODES:
        return ApplicationError(f"agent refused the request: {details}", type=VALIDATION, non_retryable=True)
    if code == grpc.StatusCode.RESOURCE_EXHAUSTED and "larger than max" in details:
        # gRPC's message size limit (our request, or the agent's answer): the same message fails every time.
        return ApplicationError(
            f"a message to or from agent {command.agent_address} is over gRPC's size limit: {details}",
            type=VALIDATION,
            non_retryable=True,
        )
    return ApplicationError(f"lost agent {command.agent_address} ({code.name}: {details})", type=AGENT_UNAVAILABLE)
