"""What bounds one run's history: rejections per phase, retries per run, answers to refused commands, and when
the run continues as new (issue 13 finding 9)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from app.config.parsing import Getter, parse_duration, parse_int


@dataclass(frozen=True)
class RunLimitSettings:
    """Caps on a run's loops and answers; 0 (or 0s) turns one off."""

    max_rejects: int = 5
    max_retries: int = 3
    refusal_quiet: timedelta = timedelta(minutes=10)
    continue_as_new_events: int = 10_000


def run_limit_settings(get: Getter) -> RunLimitSettings:
    """The run limits from the environment."""
    return RunLimitSettings(
        max_rejects=get("ORCHESTRATOR_MAX_REJECTS", parse_int, 5),
        max_retries=get("ORCHESTRATOR_MAX_RETRIES", parse_int, 3),
        refusal_quiet=get("ORCHESTRATOR_REFUSAL_QUIET", parse_duration, timedelta(minutes=10)),
        continue_as_new_events=get("ORCHESTRATOR_CONTINUE_AS_NEW_EVENTS", parse_int, 10_000),
    )
