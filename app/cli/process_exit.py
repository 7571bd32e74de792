"""Ending a process that used the Temporal client: flush everything, then exit without the interpreter's teardown.

The Temporal client's Rust threads can outlive the interpreter and abort its finalization ("PyGILState_Release ...
must be current", temporalio/sdk-python#300): a clean stop must not exit 134. Seen in `orchestrator` commands and
in `bench/full_run.py --quick` (its JSON line printed, then the abort).
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from typing import NoReturn


def run_and_exit(main: Callable[[], object]) -> NoReturn:
    """Run `main` and exit with its code: an int it returns, or its SystemExit's (a message goes to stderr)."""
    try:
        result = main()
        code = result if isinstance(result, int) else 0
    except SystemExit as done:
        if isinstance(done.code, str):
            print(done.code, file=sys.stderr)
        code = done.code if isinstance(done.code, int) else int(done.code is not None)
    exit_now(code)


def exit_now(code: int) -> NoReturn:
    """Flush the logs and the standard streams, then end the process with `code` at once."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
