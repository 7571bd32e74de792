"""A test command for the agent: records its start, waits for a release file, records its completion.

Usage: python work.py CONTROL_DIR [fail-first]. It keeps going if its stdout is gone (an agent killed with
SIGKILL), so only the agent's clean-up can stop it from completing: the tests count starts and completions.
"""

import contextlib
import os
import sys
import time
from pathlib import Path


def say(text: str) -> None:
    with contextlib.suppress(BrokenPipeError, OSError):
        print(text, flush=True)


control = Path(sys.argv[1])
with (control / "pids").open("a") as handle:
    handle.write(f"{os.getpid()}\n")
with (control / "starts").open("a") as handle:
    handle.write("start\n")
starts = len((control / "starts").read_text().splitlines())
say(f"started run {starts}")
if sys.argv[2:] == ["fail-first"] and starts == 1:
    say("crashing on purpose")
    sys.exit(3)
deadline = time.monotonic() + 60
tick = 0
while not (control / "release").exists() and time.monotonic() < deadline:
    tick += 1
    if tick % 5 == 0:
        say(f"working {tick}")
    time.sleep(0.1)
with (control / "done").open("a") as handle:
    handle.write("done\n")
say("finished")
