"""Reading back the Jira wiki markup the run writes, as a person sees it, for tests that compare text."""

from __future__ import annotations

import re


def unescaped(text: str) -> str:
    """Wiki text as Jira shows it (backslash escapes dropped)."""
    return re.sub(r"\\(.)", r"\1", text)
