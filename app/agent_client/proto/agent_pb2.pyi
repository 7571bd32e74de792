import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Command(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    COMMAND_UNSPECIFIED: _ClassVar[Command]
    COMMAND_EXPLORE: _ClassVar[Command]
    COMMAND_PLAN: _ClassVar[Command]
    COMMAND_CODE: _ClassVar[Command]
    COMMAND_TEST: _ClassVar[Command]
    COMMAND_FIX: _ClassVar[Command]
    COMMAND_DOCUMENT: _ClassVar[Command]
    COMMAND_START_EXECUTION: _ClassVar[Command]
    COMMAND_RUN_VERIFICATION: _ClassVar[Command]
    COMMAND_CREATE_PR: _ClassVar[Command]
    COMMAND_CLEANUP: _ClassVar[Command]

class ErrorKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ERROR_KIND_UNSPECIFIED: _ClassVar[ErrorKind]
    ERROR_KIND_TESTS_FAILED: _ClassVar[ErrorKind]
    ERROR_KIND_AGENT_CRASHED: _ClassVar[ErrorKind]
    ERROR_KIND_BAD_REQUEST: _ClassVar[ErrorKind]
    ERROR_KIND_CANCELLED: _ClassVar[ErrorKind]
    ERROR_KIND_TIMEOUT: _ClassVar[ErrorKind]
    ERROR_KIND_PERMISSION_DENIED: _ClassVar[ErrorKind]

class LogLevel(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LOG_LEVEL_UNSPECIFIED: _ClassVar[LogLevel]
    LOG_LEVEL_DEBUG: _ClassVar[LogLevel]
    LOG_LEVEL_INFO: _ClassVar[LogLevel]
    LOG_LEVEL_WARNING: _ClassVar[LogLevel]
    LOG_LEVEL_ERROR: _ClassVar[LogLevel]

class JobState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    JOB_STATE_UNSPECIFIED: _ClassVar[JobState]
    JOB_STATE_NOT_FOUND: _ClassVar[JobState]
    JOB_STATE_WAITING: _ClassVar[JobState]
    JOB_STATE_RUNNING: _ClassVar[JobState]
    JOB_STATE_SUCCEEDED: _ClassVar[JobState]
    JOB_STATE_FAILED: _ClassVar[JobState]
    JOB_STATE_CANCELLED: _ClassVar[JobState]
    JOB_STATE_INTERRUPTED: _ClassVar[JobState]
COMMAND_UNSPECIFIED: Command
COMMAND_EXPLORE: Command
COMMAND_PLAN: Command
COMMAND_CODE: Command
COMMAND_TEST: Command
COMMAND_FIX: Command
COMMAND_DOCUMENT: Command
COMMAND_START_EXECUTION: Command
COMMAND_RUN_VERIFICATION: Command
COMMAND_CREATE_PR: Command
COMMAND_CLEANUP: Command
ERROR_KIND_UNSPECIFIED: ErrorKind
ERROR_KIND_TESTS_FAILED: ErrorKind
ERROR_KIND_AGENT_CRASHED: ErrorKind
ERROR_KIND_BAD_REQUEST: ErrorKind
ERROR_KIND_CANCELLED: ErrorKind
ERROR_KIND_TIMEOUT: ErrorKind
ERROR_KIND_PERMISSION_DENIED: ErrorKind
LOG_LEVEL_UNSPECIFIED: LogLevel
LOG_LEVEL_DEBUG: LogLevel
LOG_LEVEL_INFO: LogLevel
LOG_LEVEL_WARNING: LogLevel
LOG_LEVEL_ERROR: LogLevel
JOB_STATE_UNSPECIFIED: JobState
JOB_STATE_NOT_FOUND: JobState
JOB_STATE_WAITING: JobState
JOB_STATE_RUNNING: JobState
JOB_STATE_SUCCEEDED: JobState
JOB_STATE_FAILED: JobState
JOB_STATE_CANCELLED: JobState
JOB_STATE_INTERRUPTED: JobState

class Credentials(_message.Message):
    __slots__ = ("git_username", "git_token", "agent_env")
    class AgentEnvEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    GIT_USERNAME_FIELD_NUMBER: _ClassVar[int]
    GIT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    AGENT_ENV_FIELD_NUMBER: _ClassVar[int]
    git_username: str
    git_token: str
    agent_env: _containers.ScalarMap[str, str]
    def __init__(self, git_username: _Optional[str] = ..., git_token: _Optional[str] = ..., agent_env: _Optional[_Mapping[str, str]] = ...) -> None: ...

class ExecuteRequest(_message.Message):
    __slots__ = ("job_id", "attempt", "command", "issue_key", "phase", "roles", "prompt", "context", "credentials", "after_seq", "rerun_failed")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    COMMAND_FIELD_NUMBER: _ClassVar[int]
    ISSUE_KEY_FIELD_NUMBER: _ClassVar[int]
    PHASE_FIELD_NUMBER: _ClassVar[int]
    ROLES_FIELD_NUMBER: _ClassVar[int]
    PROMPT_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    CREDENTIALS_FIELD_NUMBER: _ClassVar[int]
    AFTER_SEQ_FIELD_NUMBER: _ClassVar[int]
    RERUN_FAILED_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    attempt: int
    command: Command
    issue_key: str
    phase: str
    roles: _containers.RepeatedScalarFieldContainer[str]
    prompt: str
    context: str
    credentials: Credentials
    after_seq: int
    rerun_failed: bool
    def __init__(self, job_id: _Optional[str] = ..., attempt: _Optional[int] = ..., command: _Optional[_Union[Command, str]] = ..., issue_key: _Optional[str] = ..., phase: _Optional[str] = ..., roles: _Optional[_Iterable[str]] = ..., prompt: _Optional[str] = ..., context: _Optional[str] = ..., credentials: _Optional[_Union[Credentials, _Mapping]] = ..., after_seq: _Optional[int] = ..., rerun_failed: _Optional[bool] = ...) -> None: ...

class LogLine(_message.Message):
    __slots__ = ("level", "message", "stage")
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    level: LogLevel
    message: str
    stage: str
    def __init__(self, level: _Optional[_Union[LogLevel, str]] = ..., message: _Optional[str] = ..., stage: _Optional[str] = ...) -> None: ...

class Progress(_message.Message):
    __slots__ = ("stage", "percent", "message")
    STAGE_FIELD_NUMBER: _ClassVar[int]
    PERCENT_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    stage: str
    percent: int
    message: str
    def __init__(self, stage: _Optional[str] = ..., percent: _Optional[int] = ..., message: _Optional[str] = ...) -> None: ...

class Result(_message.Message):
    __slots__ = ("success", "summary", "outputs", "error_kind", "error_message", "result")
    class OutputsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    SUCCESS_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    OUTPUTS_FIELD_NUMBER: _ClassVar[int]
    ERROR_KIND_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    success: bool
    summary: str
    outputs: _containers.ScalarMap[str, str]
    error_kind: ErrorKind
    error_message: str
    result: str
    def __init__(self, success: _Optional[bool] = ..., summary: _Optional[str] = ..., outputs: _Optional[_Mapping[str, str]] = ..., error_kind: _Optional[_Union[ErrorKind, str]] = ..., error_message: _Optional[str] = ..., result: _Optional[str] = ...) -> None: ...

class ExecuteEvent(_message.Message):
    __slots__ = ("seq", "time", "log", "progress", "result")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    LOG_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    seq: int
    time: _timestamp_pb2.Timestamp
    log: LogLine
    progress: Progress
    result: Result
    def __init__(self, seq: _Optional[int] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., log: _Optional[_Union[LogLine, _Mapping]] = ..., progress: _Optional[_Union[Progress, _Mapping]] = ..., result: _Optional[_Union[Result, _Mapping]] = ...) -> None: ...

class CancelRequest(_message.Message):
    __slots__ = ("job_id", "reason")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    reason: str
    def __init__(self, job_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class CancelResponse(_message.Message):
    __slots__ = ("state",)
    STATE_FIELD_NUMBER: _ClassVar[int]
    state: JobState
    def __init__(self, state: _Optional[_Union[JobState, str]] = ...) -> None: ...

class PingRequest(_message.Message):
    __slots__ = ("nonce",)
    NONCE_FIELD_NUMBER: _ClassVar[int]
    nonce: str
    def __init__(self, nonce: _Optional[str] = ...) -> None: ...

class PingResponse(_message.Message):
    __slots__ = ("nonce", "agent_id", "protocol", "profile", "running_jobs")
    NONCE_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    PROTOCOL_FIELD_NUMBER: _ClassVar[int]
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    RUNNING_JOBS_FIELD_NUMBER: _ClassVar[int]
    nonce: str
    agent_id: str
    protocol: str
    profile: str
    running_jobs: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, nonce: _Optional[str] = ..., agent_id: _Optional[str] = ..., protocol: _Optional[str] = ..., profile: _Optional[str] = ..., running_jobs: _Optional[_Iterable[str]] = ...) -> None: ...
