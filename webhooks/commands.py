"""The comment command grammar: `/<verb> [text]` for each verb of the command table (app/temporal/control.py):
`/approve [notes]` (`/proceed`), `/reject <feedback>`, `/pause`, `/resume`, `/cancel [reason]`, `/retry [PHASE]`,
`/status`, `/explain`.

Only the first line counts (a command further down a comment does nothing), case-insensitive, optionally after
mentions of the bot (`[~accountid:<bot>] /approve`). Notes, feedback and a cancel reason are the rest of the first
line plus the lines below it. Pure: text in, `Command` or `NotACommand(reason)` out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from app.temporal.control import COMMAND_WORDS

# Notes and feedback travel in workflow history and agent prompts: keep them bounded.
MAX_TEXT = 4000
# A comment may be tens of thousands of characters of mentions: only its start is read (the text kept is MAX_TEXT
# anyway), at most this many leading mentions are skipped, and they are skipped by position, not by re-slicing the
# line after each one (which was quadratic in the line's length).
MAX_READ = 4 * MAX_TEXT
MAX_MENTIONS = 5
MENTION = re.compile(r"\[~accountid:([^\]\s]{1,128})\]\s*[,:]?\s*")
COMMAND = re.compile(r"/([A-Za-z]+)(?=\s|$)")


@dataclass(frozen=True)
class Command:
    """A command found on a comment's first line, with its text (notes/feedback/reason) and first argument."""

    verb: str
    text: str = ""
    argument: str | None = None


@dataclass(frozen=True)
class UnknownCommand:
    """The first line is `/<word>`, and no command has that name (answered on the issue with the commands)."""

    word: str


@dataclass(frozen=True)
class NotACommand:
    """The comment is not a command, and why."""

    reason: str


def parse_command(body: str, bot_account_id: str | None) -> Command | UnknownCommand | NotACommand:
    """Read the command on the first non-blank line of a comment body."""
    lines = body.lstrip()[:MAX_READ].strip().splitlines()
    if not lines:
        return NotACommand("empty comment")
    line, start = lines[0].strip(), 0
    for _ in range(MAX_MENTIONS + 1):
        mention = MENTION.match(line, start)
        if mention is None:
            break
        # Until the bot's account id is known, any leading mention is let through: the workflow still checks
        # who sent the command, and refuses the bot's own.
        if bot_account_id is not None and mention.group(1) != bot_account_id:
            return NotACommand("the first line mentions someone other than the bot")
        start = mention.end()
    else:
        return NotACommand(f"more than {MAX_MENTIONS} mentions before the command")
    line = line[start:]
    match = COMMAND.match(line)
    if match is None:
        return NotACommand("no command on the first line")
    verb = COMMAND_WORDS.get(match.group(1).lower())
    if verb is None:
        return UnknownCommand(match.group(1).lower()[:20])
    rest = line[match.end() :].strip()
    below = "\n".join(lines[1:]).strip()
    text = "\n".join(part for part in (rest, below) if part)[:MAX_TEXT]
    words = rest.split()
    return Command(verb, text=text, argument=words[0].upper()[:20] if words else None)
