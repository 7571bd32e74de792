"""The forge contract (FORGE, FORGE_URL, FORGE_REPOSITORY, FORGE_TOKEN, FORGE_BASE_BRANCH, FORGE_DRAFT), checked."""

from __future__ import annotations

import pytest
import responses

from app.config import ConfigError, ForgeSettings, Settings
from app.services.checks import check_forge
from tests.forge.conftest import REPO, TOKEN


def forge(**env: str) -> ForgeSettings:
    return Settings.from_env(env, env_file=None).forge


def test_unset_means_no_pull_request() -> None:
    assert forge() == ForgeSettings() and not forge().enabled


def test_defaults_per_provider() -> None:
    github = forge(FORGE="github", FORGE_REPOSITORY="acme/shop", FORGE_TOKEN=TOKEN)
    gitlab = forge(FORGE="GitLab", FORGE_REPOSITORY="acme/tools/shop", FORGE_TOKEN=TOKEN)
    assert (github.url, github.base_branch, github.draft) == ("https://api.github.com", None, True)
    assert (gitlab.provider, gitlab.url, gitlab.repository) == ("gitlab", "https://gitlab.com", "acme/tools/shop")
    custom = forge(
        FORGE="github",
        FORGE_URL="https://ghe.example.com/api/v3/",
        FORGE_REPOSITORY="acme/shop",
        FORGE_TOKEN=TOKEN,
        FORGE_BASE_BRANCH="develop",
        FORGE_DRAFT="false",
    )
    assert (custom.url, custom.base_branch, custom.draft) == ("https://ghe.example.com/api/v3", "develop", False)


def test_the_token_is_never_shown() -> None:
    settings = forge(FORGE="github", FORGE_REPOSITORY="acme/shop", FORGE_TOKEN=TOKEN)
    assert TOKEN not in repr(settings)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"FORGE": "bitbucket"}, "FORGE: expected github or gitlab"),
        ({"FORGE": "github", "FORGE_TOKEN": TOKEN}, "FORGE_REPOSITORY must be set"),
        ({"FORGE": "github", "FORGE_REPOSITORY": "acme/shop"}, "FORGE_TOKEN must be set"),
        ({"FORGE": "github", "FORGE_REPOSITORY": "shop", "FORGE_TOKEN": TOKEN}, "FORGE_REPOSITORY: expected"),
        ({"FORGE": "github", "FORGE_REPOSITORY": "a/b", "FORGE_TOKEN": TOKEN, "FORGE_URL": "ftp://x"}, "FORGE_URL"),
    ],
)
def test_bad_settings_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        forge(**env)


@responses.activate
def test_orchestrator_check_reads_the_repository_without_writing() -> None:
    assert check_forge(ForgeSettings()).detail.startswith("no pull requests")
    settings = forge(FORGE="github", FORGE_REPOSITORY="acme/shop", FORGE_TOKEN=TOKEN)
    responses.get(f"{REPO}/pulls", json=[])
    assert check_forge(settings).ok
    responses.replace(responses.GET, f"{REPO}/pulls", json={"message": "Bad credentials"}, status=401)
    refused = check_forge(settings)
    assert not refused.ok and "token refused" in refused.detail and TOKEN not in refused.detail
    responses.replace(responses.GET, f"{REPO}/pulls", json={"message": "Not Found"}, status=404)
    assert "no such repository" in check_forge(settings).detail


def test_agent_commands_never_see_the_forge_token() -> None:
    env = {"FORGE": "github", "FORGE_REPOSITORY": "acme/shop", "FORGE_TOKEN": TOKEN, "PATH": "/usr/bin"}
    settings = Settings.from_env(env, env_file=None)
    assert TOKEN not in settings.agents.child_env.values() and TOKEN not in settings.agents.secrets
    with pytest.raises(ConfigError, match="FORGE_"):
        Settings.from_env({**env, "AGENT_ENV_PASSTHROUGH": "PATH,FORGE_TOKEN"}, env_file=None)
