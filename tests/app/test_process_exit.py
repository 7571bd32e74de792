"""A process that used the Temporal client exits with its code, its output flushed, without interpreter teardown."""

from __future__ import annotations

import subprocess
import sys

import pytest

CASES = {
    "returns 3": ("print('line'); return 3", 3, "line\n", ""),
    "returns None": ("print('line')", 0, "line\n", ""),
    "exits with a message": ("raise SystemExit('bad setting')", 1, "", "bad setting\n"),
    "exits with a code": ("raise SystemExit(4)", 4, "", ""),
}


@pytest.mark.parametrize("case", CASES)
def test_the_exit_code_and_flushed_output(case: str) -> None:
    body, code, out, err = CASES[case]
    script = (
        "from app.cli.process_exit import run_and_exit\n"
        f"def main():\n    {body}\n"
        "run_and_exit(main)\n"
        "print('not reached')\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False)
    assert (done.returncode, done.stdout, done.stderr) == (code, out, err)
