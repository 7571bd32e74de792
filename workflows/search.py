"""Search attributes of orchestration runs, so runs can be listed by issue, project, phase and status."""

from __future__ import annotations

from temporalio.common import SearchAttributeKey

ISSUE_KEY = SearchAttributeKey.for_keyword("OrchestrationIssueKey")
PROJECT_KEY = SearchAttributeKey.for_keyword("OrchestrationProject")
PHASE = SearchAttributeKey.for_keyword("OrchestrationPhase")
STATUS = SearchAttributeKey.for_keyword("OrchestrationStatus")

ALL = (ISSUE_KEY, PROJECT_KEY, PHASE, STATUS)
