"""Attachments: a text attached once per file name and content (a retried upload finds the first one).

Only the bot's own uploads count as "already attached": anyone may attach a file of the same name and size, and it
must not stand in for the bot's.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import PurePath
from typing import Any

from app.jira_gateway.client import JiraTransport
from app.jira_gateway.errors import ValidationError
from app.jira_gateway.models import Attachment

# Our own file names (e.g. PAY-1-PLAN-v2.md): never a path, never text from people or agents. Matched whole
# (`fullmatch`): `$` alone would let a trailing newline through into the multipart header.
FILENAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,120}")
# Jira serves an attachment with the type it was uploaded as; the charset keeps non-ASCII text readable.
MIME_TYPES = {".md": "text/markdown; charset=utf-8"}
DEFAULT_MIME_TYPE = "text/plain; charset=utf-8"


class AttachmentOps:
    """Lists and uploads an issue's attachments."""

    def __init__(self, http: JiraTransport, bot_account_id: Callable[[], str]) -> None:
        self.http = http
        self.bot_account_id = bot_account_id

    def attach_text(self, issue_key: str, filename: str, text: str) -> Attachment:
        """Attach `text` as `filename` unless an attachment of that name and size is already there."""
        if not FILENAME.fullmatch(filename):
            raise ValidationError(f"attachment name {filename!r} is not a plain file name")
        data = text.encode()
        bot = self.bot_account_id()
        for existing in self.list(issue_key):
            if existing.filename == filename and existing.size == len(data) and existing.author == bot:
                return existing  # a retry after a lost answer, or the same text attached before
        uploaded = self.http.upload(f"issue/{issue_key}/attachments", filename, data, mime_type(filename))
        if not isinstance(uploaded, list) or not uploaded:
            raise ValidationError(f"Jira answered the upload of {filename} without the attachment")
        return _parse(uploaded[0])

    def list(self, issue_key: str) -> list[Attachment]:
        """The issue's attachments."""
        raw = self.http.get(f"issue/{issue_key}", fields="attachment")
        return [_parse(item) for item in ((raw.get("fields") or {}).get("attachment") or [])]


def mime_type(filename: str) -> str:
    """The content type a text file of this name is uploaded as."""
    return MIME_TYPES.get(PurePath(filename).suffix.lower(), DEFAULT_MIME_TYPE)


def _parse(raw: dict[str, Any]) -> Attachment:
    size = int(raw.get("size") or 0)
    author = (raw.get("author") or {}).get("accountId")
    return Attachment(
        str(raw.get("id", "")),
        str(raw.get("filename", "")),
        size,
        str(raw.get("content", "")),
        author if isinstance(author, str) else None,
    )
