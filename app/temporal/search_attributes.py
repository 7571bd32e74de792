"""Does the namespace know the orchestration's search attributes? Without them, every workflow task that sets one
fails, and Temporal retries it forever: `orchestrator check` says so, and the worker refuses to start.

The probe is a visibility query on each attribute (`OrchestrationIssueKey = "probe"`), which Temporal answers
INVALID_ARGUMENT for an attribute the namespace does not have. It needs no operator rights, and it works the
same on a dev server, a cluster and Temporal Cloud (whose operator API is not open to namespaces' clients).
"""

from __future__ import annotations

from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from workflows import search


async def missing_search_attributes(client: Client) -> list[str]:
    """The orchestration's search attributes the client's namespace does not have (RPCError for other failures)."""
    missing = []
    for key in search.ALL:
        try:
            await client.count_workflows(f'{key.name} = "probe"')
        except RPCError as err:
            if err.status != RPCStatusCode.INVALID_ARGUMENT:
                raise
            missing.append(key.name)
    return missing


def how_to_register(namespace: str, missing: list[str]) -> str:
    """What the operator runs to add them (self-hosted and dev server; Temporal Cloud: `tcld`, or its UI)."""
    names = " ".join(f"--name {name}" for name in missing)
    return (
        f"register them (type Keyword) in namespace {namespace}: `temporal operator search-attribute create "
        f"--namespace {namespace} {names} --type Keyword` (Temporal Cloud: `tcld namespace search-attributes add`)"
    )
