"""Atlassian Document Format → plain text, for comment bodies that arrive as ADF instead of wiki markup."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# ADF documents nest; a hostile one could nest deeper than anything a person writes.
MAX_ADF_DEPTH = 64
ADF_BLOCKS = {"paragraph", "heading", "blockquote", "listItem", "codeBlock", "rule", "panel", "tableRow"}
_END_OF_BLOCK = object()


class UnreadableADF(ValueError):
    """The document is not ADF we can read."""


def adf_to_text(doc: Mapping[str, Any]) -> str:
    """Flatten an ADF document: text as is, mentions as `[~accountid:ID]`, one line per block."""
    out: list[str] = []
    # Iterative walk (no recursion): (node, depth), with a marker to end a block with a newline.
    stack: list[tuple[Any, int]] = [(doc, 0)]
    while stack:
        node, depth = stack.pop()
        if node is _END_OF_BLOCK:
            out.append("\n")
            continue
        if not isinstance(node, dict) or depth > MAX_ADF_DEPTH:
            raise UnreadableADF("not a readable ADF document")
        kind = node.get("type")
        raw_attrs = node.get("attrs")
        attrs: Mapping[str, Any] = raw_attrs if isinstance(raw_attrs, dict) else {}
        if kind == "text" and isinstance(node.get("text"), str):
            out.append(node["text"])
        elif kind == "mention" and isinstance(attrs.get("id"), str):
            out.append(f"[~accountid:{attrs['id']}]")
        elif kind == "hardBreak":
            out.append("\n")
        content = node.get("content", [])
        if not isinstance(content, list):
            raise UnreadableADF("ADF content must be a list")
        if kind in ADF_BLOCKS:
            stack.append((_END_OF_BLOCK, depth))
        stack.extend((child, depth + 1) for child in reversed(content))
    return "".join(out)
