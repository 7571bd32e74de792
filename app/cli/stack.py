"""What `make run` starts and where it is: the Procfile processes that apply to this configuration."""

from __future__ import annotations

import sys
from pathlib import Path

from app.config import SANDBOX_FORGE_REPOSITORY, SANDBOX_FORGE_TOKEN, Settings
from app.store.db import describe_url


def procfile(path: Path = Path("Procfile")) -> list[str]:
    """The process names in the Procfile, in order."""
    names = []
    for line in path.read_text().splitlines():
        name, sep, _ = line.partition(":")
        if sep and name.strip() and not name.lstrip().startswith("#"):
            names.append(name.strip())
    return names


def processes(settings: Settings) -> list[str]:
    """Every Procfile process, less the local stand-ins that a real deployment replaces."""
    local_temporal = settings.temporal.address.rpartition(":")[0] in {"localhost", "127.0.0.1"}
    skip = set()
    if not local_temporal or settings.temporal.api_key:
        skip.add("temporal")
    if not settings.jira.uses_sandbox:
        skip.add("sandbox")
    return [name for name in procfile() if name not in skip]


def sandbox_forge_env(settings: Settings) -> dict[str, str]:
    """FORGE=github at the sandbox forge, for a stack on the sandbox Jira with no forge of its own; else nothing.

    So `make run` opens a real pull request page with the production provider; a FORGE in .env or the
    environment is kept as it is.
    """
    if not settings.jira.uses_sandbox or settings.forge.enabled:
        return {}
    return {
        "FORGE": "github",
        "FORGE_URL": f"{settings.jira.url}/forge/api",
        "FORGE_REPOSITORY": SANDBOX_FORGE_REPOSITORY,
        "FORGE_TOKEN": SANDBOX_FORGE_TOKEN,
    }


def banner(settings: Settings) -> str:
    """Where everything is, printed by `make run` before the processes start."""
    names = processes(settings)
    lines = ["", "Jira Orchestrator — starting: " + ", ".join(names)]
    lines.append(f"  web (API, webhook, dashboard)  http://localhost:{settings.web_port}  (health: /healthz)")
    lines.append("  dashboard login token          .venv/bin/orchestrator users add --account-id ID --name NAME")
    lines.append(f"  Jira webhook endpoint          http://localhost:{settings.web_port}/webhooks/jira")
    where = "local dev server, data in " + str(settings.var_dir / "temporal.db") if "temporal" in names else "remote"
    lines.append(f"  Temporal {settings.temporal.address} ({where}); UI {settings.temporal.ui_url}")
    lines.append(f"  database                       {describe_url(settings.database_url)}")
    jira = f"sandbox Jira {settings.jira.url}" if settings.jira.uses_sandbox else f"Jira {settings.jira.url}"
    lines.append(f"  Jira                           {jira}")
    forge = settings.forge
    if forge.enabled and forge.url.startswith(settings.jira.url + "/forge/"):
        lines.append(f"  pull requests                  sandbox forge {settings.jira.url}/forge/{forge.repository}")
    elif forge.enabled:
        lines.append(f"  pull requests                  {forge.provider} {forge.repository} ({forge.url})")
    else:
        lines.append("  pull requests                  none (FORGE unset: the pushed branch is the link)")
    lines.append("  Ctrl-C stops every process.")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    try:
        current = Settings.from_env()
    except ValueError as err:
        sys.exit(f"orchestrator: configuration error: {err}")
    if sys.argv[1:] == ["processes"]:
        print(" ".join(processes(current)))
    elif sys.argv[1:] == ["env"]:  # `env $(python -m app.cli.stack env) honcho start`: values have no spaces
        print(" ".join(f"{name}={value}" for name, value in sandbox_forge_env(current).items()))
    else:
        print(banner(current))
