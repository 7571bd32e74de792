"""Reading an agent's typed result document: JSON, checked against result.schema.json, into workflows/results.py."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from workflows.results import PhaseResult, ResultError, from_document

# A document larger than this is refused before parsing (the whole result must stay far below Temporal's 2 MB).
MAX_DOCUMENT = 256 * 1024


@cache
def schema() -> dict[str, Any]:
    """The result document's JSON Schema (shipped with this package, handed to coding agents as is)."""
    loaded: dict[str, Any] = json.loads(resources.files(__package__).joinpath("result.schema.json").read_text())
    return loaded


@cache
def _validator() -> Draft202012Validator:
    Draft202012Validator.check_schema(schema())
    return Draft202012Validator(schema())


def read_result(phase: str, raw: str) -> PhaseResult | None:
    """The phase's typed result from the agent's document; None when it sent none (an untyped, text-only result).

    Raises ResultError with the first validation message (where in the document, and what is wrong)."""
    if not raw.strip():
        return None
    if len(raw) > MAX_DOCUMENT:
        raise ResultError(f"the result document has {len(raw)} characters; at most {MAX_DOCUMENT} are accepted")
    try:
        document = json.loads(raw)
    except ValueError as err:
        raise ResultError(f"the result document is not JSON: {err}") from None
    error = best_match(_validator().iter_errors(document))
    if error is not None:
        where = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in error.absolute_path)
        raise ResultError(f"${where}: {error.message[:300]}")
    return from_document(phase, document)
