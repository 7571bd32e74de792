"""Commands run confined where the host allows a Linux mount namespace: untrusted ones see the shared repository
read-only, and none sees the agent's own secret files.

TEST and runVerification already run on a detached snapshot (snapshot.py) with an empty HOME, but a process
of the agent's user could still find the shared repository by its path and write its hooks or config, or a
job's journal, or read the agent's secrets on disk. So where the host allows it, such a command runs under
`unshare`: in its own mount namespace the repository, every worktree, a local remote, the journals and the
askpass helper are bind-mounted read-only (its snapshot and its own command folder stay writable), the usual
credential files under the agent's HOME (ssh keys, git credentials, a coding tool's login) and the agent's own
secret files (.env, the token file, TLS keys) are hidden; it runs in its own PID namespace (no other process
in sight, a fresh /proc) with no capabilities left (`setpriv`), so it cannot remount anything writable again.
A read-only mount stops root as well, unlike a file mode. As a user other than root this needs unprivileged
user namespaces. The network is not confined: such a command can still reach what the host can.

The AI phases run confined too, more loosely: they commit, so the repository stays writable to them, but the
journals and the askpass helper (AGENT_WORKSPACE_DIR but their worktree and command folder) are read-only, and
the same secret files are hidden but for the coding tool's login, which their tool may need.

Where the host refuses namespaces (a container without CAP_SYS_ADMIN, a kernel that forbids user namespaces)
the agent says so once at start and runs commands unconfined (untrusted ones still on their snapshot).
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path

log = logging.getLogger(__name__)
PROBE_TIMEOUT = 20.0
# Where a user's credentials usually live, relative to HOME: hidden from a confined command (an empty tmpfs over a
# folder, /dev/null over a file). A coding tool's login stays visible to the AI phases, whose tool needs it.
HOME_SECRETS = (
    ".ssh",
    ".gnupg",
    ".git-credentials",
    ".config/git/credentials",
    ".netrc",
    ".config/gh",
    ".aws",
    ".docker",
)
CODER_LOGINS = (".claude", ".claude.json", ".config/claude")
# Arguments: read-only paths, "--", paths made writable again inside them, "--", paths hidden, "--", the command.
SCRIPT = """set -e
while [ "$1" != "--" ]; do mount --bind "$1" "$1"; mount -o remount,bind,ro "$1"; shift; done
shift
while [ "$1" != "--" ]; do mount --bind "$1" "$1"; mount -o remount,bind,rw "$1"; shift; done
shift
while [ "$1" != "--" ]; do
  if [ -d "$1" ]; then mount -t tmpfs -o size=64k,mode=700 tmpfs "$1"; else mount --bind /dev/null "$1"; fi
  shift
done
shift
exec setpriv --no-new-privs --bounding-set=-all --inh-caps=-all -- "$@"
"""


def wrap(argv: list[str], readonly: Iterable[Path], writable: Iterable[Path], hidden: Iterable[Path] = ()) -> list[str]:
    """`argv` run with `readonly` paths mounted read-only (but `writable` ones inside them) and `hidden` ones out
    of sight, in its own PID namespace and without capabilities."""
    user = [] if os.geteuid() == 0 else ["--user", "--map-root-user"]
    namespaces = [*user, "--mount", "--propagation", "private", "--pid", "--fork", "--kill-child", "--mount-proc"]
    groups = (readonly, writable, hidden)
    paths = [arg for group in groups for arg in (*(str(p) for p in group), "--")]
    return ["unshare", *namespaces, "--", "sh", "-c", SCRIPT, "sh", *paths, *argv]


def home_secrets(home: str | None, coder_login: bool) -> list[Path]:
    """The usual credential files and folders under `home` that exist (none without a home); the coding tool's
    login among them unless `coder_login` (the command may use it)."""
    if not home:
        return []
    names = HOME_SECRETS if coder_login else (*HOME_SECRETS, *CODER_LOGINS)
    return [Path(home) / name for name in names if (Path(home) / name).exists()]


def available(env: Mapping[str, str]) -> bool:
    """Whether this host lets the agent confine a command (tried once, on a scratch folder)."""
    if not all(shutil.which(tool, path=env.get("PATH")) for tool in ("unshare", "setpriv", "mount")):
        log.warning("agent.confinement-unavailable reason=%s", "unshare, setpriv or mount is not installed")
        return False
    with tempfile.TemporaryDirectory(prefix="agent-probe-") as scratch:
        locked, open_ = Path(scratch) / "locked", Path(scratch) / "locked" / "open"
        open_.mkdir(parents=True)
        probe = f'touch "{open_}/ok" && ! touch "{locked}/no" 2>/dev/null'
        try:
            done = subprocess.run(
                wrap(["sh", "-c", probe], [locked], [open_]),
                env=dict(env),
                capture_output=True,
                text=True,
                timeout=PROBE_TIMEOUT,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as err:
            done = subprocess.CompletedProcess([], 1, "", str(err))
        if done.returncode == 0 and (open_ / "ok").exists() and not (locked / "no").exists():
            log.info("agent.confinement-available (TEST and runVerification see the repository read-only)")
            return True
    reason = (done.stderr.strip().splitlines() or ["the probe failed"])[-1]
    log.warning("agent.confinement-unavailable reason=%s (TEST and runVerification run on a snapshot only)", reason)
    return False
