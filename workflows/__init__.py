"""Deterministic workflow code only: temporalio, the standard library and the dataclasses it exchanges."""

from __future__ import annotations

WORKFLOW_ID_PREFIX = "orchestration-"


def workflow_id_for(issue_key: str) -> str:
    """The one workflow id an issue's orchestration runs under: `orchestration-<KEY>`."""
    return f"{WORKFLOW_ID_PREFIX}{issue_key.upper()}"
