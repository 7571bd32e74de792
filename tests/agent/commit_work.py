"""A test command that commits as a coding agent would: python commit_work.py CONTROL_DIR JOB_FILE.

It appends a line (the job, and which run of which agent) to `work/<command>.txt` in the worktree and commits it
as "<KEY>: <command> by <job_id>": every run of a job makes a commit with that subject, and no two runs make the
same commit. It records each start (CONTROL/starts) and each commit (CONTROL/committed: the sha). While
CONTROL/hold exists it then waits for CONTROL/release, so a test can kill the agent after the commit and before
the agent pushes.
"""

import json
import subprocess
import sys
import time
from pathlib import Path


def git(*args: str) -> str:
    return subprocess.run(["git", *args], capture_output=True, text=True, check=True).stdout.strip()


control = Path(sys.argv[1])
job = json.loads(Path(sys.argv[2]).read_text())
with (control / "starts").open("a") as handle:
    handle.write(f"{job['job_id']}\n")
run = len((control / "starts").read_text().split())
work = Path("work") / f"{job['command']}.txt"
work.parent.mkdir(exist_ok=True)
with work.open("a") as handle:
    handle.write(f"{job['job_id']}: run {run} of {control}\n")  # no two runs make the same commit
git("add", str(work))
git("commit", "--quiet", "-m", f"{job['issue_key']}: {job['command']} by {job['job_id']}")
sha = git("rev-parse", "HEAD")
with (control / "committed").open("a") as handle:
    handle.write(f"{sha}\n")
print(f"committed {sha[:12]}", flush=True)
deadline = time.monotonic() + 60
while (control / "hold").exists() and not (control / "release").exists() and time.monotonic() < deadline:
    time.sleep(0.05)
print("done", flush=True)
