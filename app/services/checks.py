"""Reachability checks of the database, Temporal, Jira and the forge, shared by `/healthz` and `orchestrator check`."""

from __future__ import annotations

from dataclasses import dataclass

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from jira import JIRAError
from sqlalchemy import Engine
from temporalio.service import RPCError

from app.config import AgentSettings, ForgeSettings, JiraSettings, NotifySettings, WebSettings
from app.config.agents import plaintext_calls, plaintext_listen
from app.forge import ForgeError, ForgeNotFound, ForgePermission, ForgeRetry, build_forge
from app.jira_gateway.client import build_client
from app.store.db import describe_url, ping
from app.store.migrate import alembic_config
from app.temporal.gateway import TemporalGateway, TemporalUnavailable
from app.temporal.search_attributes import how_to_register, missing_search_attributes
from workflows.policies import jira_budget_problem


@dataclass(frozen=True)
class Check:
    """The outcome of one check: what was checked, whether it works, and a plain-language detail."""

    name: str
    ok: bool
    detail: str


def check_database(engine: Engine) -> Check:
    """Connect, run a query, and compare the schema revision with the newest migration."""
    where = describe_url(engine.url.render_as_string(hide_password=False))
    try:
        ping(engine)
        with engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_revision()
    except Exception as err:  # any driver error means "not reachable"; the message says which
        return Check("database", False, f"cannot reach {where}: {_first_line(err)}")
    head = ScriptDirectory.from_config(alembic_config(where)).get_current_head()
    if current != head:
        return Check(
            "database", False, f"{where} is at schema {current or 'empty'}, expected {head}: run `orchestrator migrate`"
        )
    return Check("database", True, f"{where} reachable, schema {current}")


def check_temporal(gateway: TemporalGateway) -> Check:
    """Ask Temporal's health service through the gateway."""
    settings = gateway.settings
    if not settings.enabled:
        return Check("temporal", True, "disabled (FEATURE_TEMPORAL_ENABLED=false)")
    problem = gateway.check()
    if problem:
        return Check("temporal", False, problem)
    return Check("temporal", True, f"{settings.address} reachable, namespace {settings.namespace}")


def check_search_attributes(gateway: TemporalGateway) -> Check:
    """Does the namespace have the orchestration's search attributes (runs fail forever without them)?"""
    settings = gateway.settings
    if not settings.enabled:
        return Check("search attributes", True, "not checked (FEATURE_TEMPORAL_ENABLED=false)")
    try:
        missing = gateway.call(missing_search_attributes)
    except (TemporalUnavailable, RPCError) as err:
        return Check("search attributes", False, f"could not be checked: {_first_line(err)}")
    if missing:
        hint = how_to_register(settings.namespace, missing)
        return Check("search attributes", False, f"namespace {settings.namespace} lacks {', '.join(missing)}: {hint}")
    return Check("search attributes", True, f"namespace {settings.namespace} has the orchestration's four")


def check_webhooks(settings: JiraSettings) -> Check:
    """Are Jira's webhooks authenticated? Unsigned deliveries from a real site need JIRA_WEBHOOK_ALLOW_UNSIGNED."""
    if settings.webhook_secret:
        return Check("webhooks", True, "deliveries must be signed (X-Hub-Signature with JIRA_WEBHOOK_SECRET)")
    if settings.uses_sandbox:
        return Check("webhooks", True, "unsigned deliveries accepted (sandbox Jira only; set JIRA_WEBHOOK_SECRET)")
    if settings.allow_unsigned:
        return Check(
            "webhooks",
            True,
            "UNSIGNED deliveries accepted (JIRA_WEBHOOK_ALLOW_UNSIGNED=true): anyone who can reach this port can "
            "post a comment event and approve a run",
        )
    return Check(
        "webhooks",
        False,
        f"JIRA_WEBHOOK_SECRET is unset for {settings.url}: the web process will not start, since anyone who can "
        "reach it could approve a run; set the webhook's secret (or JIRA_WEBHOOK_ALLOW_UNSIGNED=true to accept the "
        "risk)",
    )


def check_sessions(web: WebSettings, jira: JiraSettings) -> Check:
    """Are dashboard sessions signed with a configured key? A real site needs ORCHESTRATOR_SECRET_KEY. Says who
    the SSO proxy is, when there is one."""
    sso = ""
    if web.trusted_user_header:
        proxies = ", ".join(str(network) for network in web.trusted_proxies)
        sso = f"; SSO: the user named in {web.trusted_user_header}, believed only from {proxies}"
    if web.secret_key:
        return Check("sessions", True, "dashboard sessions are signed with ORCHESTRATOR_SECRET_KEY" + sso)
    if jira.uses_sandbox:
        return Check(
            "sessions", True, "ORCHESTRATOR_SECRET_KEY is unset: each web process makes up its own (sandbox only)" + sso
        )
    return Check(
        "sessions",
        False,
        f"ORCHESTRATOR_SECRET_KEY is unset for {jira.url}: the web process will not start, since dashboard sessions "
        "could not be signed; set it to a long random value (make run writes one to .env)",
    )


def check_agent_transport(settings: AgentSettings) -> Check:
    """Does the token travel encrypted? Plaintext gRPC beyond this host needs AGENT_ALLOW_PLAINTEXT."""
    problems = [p for p in (plaintext_calls(settings), plaintext_listen(settings)) if p is not None]
    if not problems:
        mutual = " (mutual TLS)" if settings.tls_client_ca or settings.tls_client_cert else ""
        tls = "TLS" if settings.calls_with_tls or settings.serves_tls else "loopback only, plaintext"
        return Check("agents", True, f"{tls}{mutual}")
    if settings.allow_plaintext:
        return Check("agents", True, f"PLAINTEXT over the network (AGENT_ALLOW_PLAINTEXT=true): {'; '.join(problems)}")
    return Check(
        "agents",
        False,
        f"{'; '.join(problems)}: the worker and the agent refuse to start (configure TLS, or set "
        "AGENT_ALLOW_PLAINTEXT=true to accept clear text on a trusted network)",
    )


def check_notify(settings: NotifySettings) -> Check:
    """Is a chat webhook configured? Shown by host only: the URL's path is the webhook's credential."""
    if not settings.webhook_url:
        return Check("notify", True, "disabled (set NOTIFY_WEBHOOK_URL to post to a Slack-compatible channel)")
    # Not probed: any request to an incoming webhook posts a message to the channel.
    return Check("notify", True, f"webhook configured ({settings.webhook_host}); events {', '.join(settings.events)}")


def check_forge(settings: ForgeSettings) -> Check:
    """Can the token read the repository's pull requests? (A list of one branch's: nothing is written.)"""
    forge = build_forge(settings, ForgeRetry(0.0))
    hooks = "webhooks signed" if settings.webhook_secret else "webhooks refused (FORGE_WEBHOOK_SECRET unset)"
    if forge is None:
        return Check(
            "forge", True, f"no pull requests (set FORGE=github or gitlab; the pushed branch is the link); {hooks}"
        )
    where = f"{settings.provider} {settings.repository} at {settings.url}"
    try:
        forge.find("jira/ORCHESTRATOR-CHECK")
    except ForgePermission:
        return Check("forge", False, f"{where}: token refused (check FORGE_TOKEN and its scopes)")
    except ForgeNotFound:
        return Check("forge", False, f"{where}: no such repository, or the token may not see it")
    except ForgeError as err:  # messages never carry the token (app/forge/errors.py)
        return Check("forge", False, f"{where}: {_first_line(err)}")
    return Check("forge", True, f"{where} reachable; {hooks}")


def check_jira(settings: JiraSettings) -> Check:
    """Authenticate against Jira (or the sandbox) with `/myself`."""
    where = f"sandbox Jira at {settings.url}" if settings.uses_sandbox else f"Jira at {settings.url}"
    problem = jira_budget_problem(settings.retry_budget, settings.timeout)
    if problem is not None:
        return Check("jira", False, problem)
    _, token = settings.credentials
    try:
        me = build_client(settings, read_timeout=5).myself()
    except JIRAError as err:
        detail = (
            "credentials refused (check JIRA_EMAIL and JIRA_API_TOKEN)"
            if err.status_code in (401, 403)
            else (f"answered {err.status_code}")
        )
        return Check("jira", False, f"{where}: {detail}")
    except Exception as err:  # connection refused, DNS, TLS: all mean "not reachable"
        detail = _first_line(err)
        if token:
            detail = detail.replace(token, "***")
        return Check("jira", False, f"cannot reach {where}: {detail}")
    return Check("jira", True, f"{where} reachable as {me.get('displayName') or me.get('accountId')}")


def _first_line(err: BaseException) -> str:
    if "Connection refused" in str(err):
        return "connection refused (is it running?)"
    if "Name or service not known" in str(err) or "nodename nor servname" in str(err):
        return "the host name does not resolve"
    text = str(err).strip().splitlines()
    return (text[0] if text else type(err).__name__)[:300]
