"""Who may start a run from Jira, and how many live runs a project and a person may have at once."""

from __future__ import annotations

from dataclasses import dataclass

from app.config.parsing import Getter, parse_int, parse_list


@dataclass(frozen=True)
class StartSettings:
    """The start policy; all unset (the default) lets anyone who can label an issue start a run."""

    # Account ids and/or group ids (matched by id, as ORCHESTRATOR_APPROVERS); empty: anyone may start.
    starters: tuple[str, ...] = ()
    max_runs_per_project: int | None = None
    max_runs_per_person: int | None = None

    @property
    def checked(self) -> bool:
        """True when a start from Jira must be checked before it starts anything."""
        return bool(self.starters) or self.max_runs_per_project is not None or self.max_runs_per_person is not None


def start_settings(get: Getter) -> StartSettings:
    """The start policy from the environment."""
    return StartSettings(
        starters=get("ORCHESTRATOR_STARTERS", lambda _n, raw: parse_list(raw), ()),
        max_runs_per_project=get("ORCHESTRATOR_MAX_RUNS_PER_PROJECT", lambda n, raw: parse_int(n, raw, 1), None),
        max_runs_per_person=get("ORCHESTRATOR_MAX_RUNS_PER_PERSON", lambda n, raw: parse_int(n, raw, 1), None),
    )
