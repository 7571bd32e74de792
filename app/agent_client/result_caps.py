"""Bounds on a job's result and request, so they always fit: Temporal refuses payloads over 2 MB, gRPC messages
over 4 MB (the agent's default receive limit).

The agent applies `cap_result` where a job's result is final (app/agent_server/execution.py `run_job`), and the
dispatch activity applies it again (an agent of another make may not) before measuring the outcome as Temporal will
encode it (`MAX_OUTCOME_BYTES`). What is cut says so: a cut text carries a marker where it was cut, and the
`truncated` output lists what was cut. A typed result document cannot be cut (it would no longer parse): one over
`MAX_DOCUMENT` is dropped, `result_dropped` says why, and the activity makes that an INVALID_RESULT failure.
"""

from __future__ import annotations

from collections.abc import Iterable

from app.agent_client.credentials import mask, mask_map
from app.agent_client.proto import agent_pb2 as pb
from app.agent_client.results import MAX_DOCUMENT

SUMMARY_CHARS = 2_000
ERROR_CHARS = 4_000
MAX_OUTPUTS = 16
OUTPUT_CHARS = 16_000
# All outputs together: a run carries each phase's outputs on into the next phases' context.
OUTPUTS_CHARS = 64_000
NAME_CHARS = 100
# Everything the activity returns, as encoded into workflow history: half of Temporal's 2 MB hard limit.
MAX_OUTCOME_BYTES = 1024 * 1024
# An ExecuteRequest the agent can receive (gRPC's default 4 MiB), less room for the call's framing.
MAX_REQUEST_BYTES = 4 * 1024 * 1024 - 16 * 1024
# Reserved output names: what was cut, and why the typed result document was dropped.
TRUNCATED = "truncated"
RESULT_DROPPED = "result_dropped"


def cut_head(text: str, limit: int) -> tuple[str, bool]:
    """`text` within `limit` characters, keeping its start; whether it was cut."""
    if len(text) <= limit:
        return text, False
    marker = f" … [{len(text) - limit} more characters cut]"
    return text[: max(0, limit - len(marker))] + marker, True


def cut_middle(text: str, limit: int) -> tuple[str, bool]:
    """`text` within `limit` characters, keeping its start and its end (a report's verdict is last); whether cut."""
    if len(text) <= limit:
        return text, False
    marker = f"\n… [{len(text) - limit} characters cut] …\n"
    room = max(0, limit - len(marker))
    head = room // 2
    return text[:head] + marker + text[len(text) - (room - head) :], True


def cap_result(result: pb.Result, secrets: Iterable[str] = ()) -> pb.Result:
    """The result within every cap, secrets masked first; the same object when nothing needed changing."""
    known = tuple(secrets)
    if known:  # before any cut: a cut through a secret would leave a part that masking no longer recognises
        result = pb.Result(
            success=result.success,
            summary=mask(result.summary, known),
            outputs=mask_map(result.outputs, known),
            error_kind=result.error_kind,
            error_message=mask(result.error_message, known),
            result=mask(result.result, known),
        )
    notes: list[str] = []
    summary, cut = cut_head(result.summary, SUMMARY_CHARS)
    if cut:
        notes.append(f"the summary ({len(result.summary)} characters)")
    outputs = _capped_outputs(dict(result.outputs), notes)
    document, reason = result.result, result.outputs.get(RESULT_DROPPED, "")
    if len(document) > MAX_DOCUMENT:
        document, reason = "", f"the result document has {len(document)} characters; at most {MAX_DOCUMENT} are kept"
        notes.append("the typed result document")
    if reason:
        outputs[RESULT_DROPPED] = cut_head(reason, ERROR_CHARS)[0]
    earlier = result.outputs.get(TRUNCATED, "")  # what the agent already cut (the activity caps a second time)
    if earlier or notes:
        said = [earlier] + ([f"cut to fit: {', '.join(notes)}"] if notes else [])
        outputs[TRUNCATED] = cut_head("; ".join(part for part in said if part), ERROR_CHARS)[0]
    error = cut_head(result.error_message, ERROR_CHARS)[0]
    given = (result.summary, result.error_message, dict(result.outputs), result.result)
    if (summary, error, outputs, document) == given:
        return result
    return pb.Result(
        success=result.success,
        summary=summary,
        outputs=outputs,
        error_kind=result.error_kind,
        error_message=error,
        result=document,
    )


def _capped_outputs(given: dict[str, str], notes: list[str]) -> dict[str, str]:
    names = sorted(name for name in given if name not in (TRUNCATED, RESULT_DROPPED))
    fitting = [name for name in names if len(name) <= NAME_CHARS]
    kept, dropped = fitting[:MAX_OUTPUTS], fitting[MAX_OUTPUTS:] + [name[:40] for name in names if name not in fitting]
    if dropped:
        notes.append(f"{len(dropped)} outputs past the first {MAX_OUTPUTS} ({', '.join(dropped)[:300]})")
    outputs: dict[str, str] = {}
    budget = OUTPUTS_CHARS
    # Shortest first: what a short output does not use is left to the longer ones.
    for done, name in enumerate(sorted(kept, key=lambda name: len(given[name]))):
        outputs[name], cut = cut_middle(given[name], min(OUTPUT_CHARS, budget // (len(kept) - done)))
        budget -= len(outputs[name])
        if cut:
            notes.append(f"output {name} ({len(given[name])} characters)")
    return {name: outputs[name] for name in kept}
