"""Names of the agent protocol: command and error-kind strings as the workflows use them, and their proto enums."""

from __future__ import annotations

import re

from app.agent_client.proto import agent_pb2 as pb
from workflows.ids import is_issue_key

PROTOCOL = "orchestrator.agent.v1"
# Every call but the standard health service carries `authorization: Bearer <token>`.
TOKEN_METADATA_KEY = "authorization"  # noqa: S105 - a header name
HEALTH_SERVICE_PREFIX = "/grpc.health.v1.Health/"

PHASE_COMMANDS = ("EXPLORE", "PLAN", "CODE", "TEST", "FIX", "DOCUMENT")
LIFECYCLE_COMMANDS = ("startExecution", "runVerification", "createPR", "cleanup")

COMMANDS: dict[str, pb.Command] = {
    "EXPLORE": pb.COMMAND_EXPLORE,
    "PLAN": pb.COMMAND_PLAN,
    "CODE": pb.COMMAND_CODE,
    "TEST": pb.COMMAND_TEST,
    "FIX": pb.COMMAND_FIX,
    "DOCUMENT": pb.COMMAND_DOCUMENT,
    "startExecution": pb.COMMAND_START_EXECUTION,
    "runVerification": pb.COMMAND_RUN_VERIFICATION,
    "createPR": pb.COMMAND_CREATE_PR,
    "cleanup": pb.COMMAND_CLEANUP,
}
COMMAND_NAMES: dict[int, str] = {value: name for name, value in COMMANDS.items()}

# The strings match workflows.job_types.ErrorKind, which the orchestration branches on.
ERROR_KINDS: dict[str, pb.ErrorKind] = {
    "TESTS_FAILED": pb.ERROR_KIND_TESTS_FAILED,
    "AGENT_CRASHED": pb.ERROR_KIND_AGENT_CRASHED,
    "BAD_REQUEST": pb.ERROR_KIND_BAD_REQUEST,
    "CANCELLED": pb.ERROR_KIND_CANCELLED,
    "TIMEOUT": pb.ERROR_KIND_TIMEOUT,
    "PERMISSION_DENIED": pb.ERROR_KIND_PERMISSION_DENIED,
}
ERROR_KIND_NAMES: dict[int, str] = {value: name for name, value in ERROR_KINDS.items()}

LOG_LEVEL_NAMES: dict[int, str] = {
    pb.LOG_LEVEL_DEBUG: "DEBUG",
    pb.LOG_LEVEL_INFO: "INFO",
    pb.LOG_LEVEL_WARNING: "WARNING",
    pb.LOG_LEVEL_ERROR: "ERROR",
}

JOB_ID_MAX = 128  # the width of job_logs.job_id and agent_jobs.id
_JOB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@+-]*$")


def job_id_problem(job_id: str) -> str | None:
    """Why `job_id` cannot name a job, or None when it can."""
    if not job_id or len(job_id) > JOB_ID_MAX or not _JOB_ID.match(job_id):
        return f"job_id must be 1-{JOB_ID_MAX} letters, digits or ._:@+- (got {job_id[:40]!r})"
    return None


def issue_key_problem(issue_key: str) -> str | None:
    """Why `issue_key` cannot name a workspace, or None when it can."""
    if not is_issue_key(issue_key):
        return f"issue_key must look like PROJ-123 (got {issue_key[:40]!r})"
    return None


def branch_for(issue_key: str) -> str:
    """The issue's branch."""
    return f"jira/{issue_key}"
