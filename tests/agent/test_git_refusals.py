"""Which of git's failures mean the remote refused the agent's credentials (PERMISSION_DENIED, not retried)."""

from __future__ import annotations

import pytest

from app.agent_server.git_refusals import credentials_refused, refusal_message, without_userinfo

# git's stderr (and the code hosts' `remote:` lines) as they appear; the expected line, or None: not a refusal.
CASES = [
    (  # https, a wrong or expired token (GitHub)
        ["remote: Invalid username or password.", "fatal: Authentication failed for 'https://github.com/o/r.git/'"],
        "remote: Invalid username or password.",
    ),
    (
        ["fatal: Authentication failed for 'https://dev.azure.com/o/p/_git/r'"],
        "fatal: Authentication failed for 'https://dev.azure.com/o/p/_git/r'",
    ),
    (  # https, no credential at all and prompts disabled
        ["fatal: could not read Username for 'https://github.com': terminal prompts disabled"],
        "fatal: could not read Username for 'https://github.com': terminal prompts disabled",
    ),
    (  # the user is dropped too: it may be a token
        ["fatal: could not read Password for 'https://bot@bitbucket.org': No such device or address"],
        "fatal: could not read Password for 'https://bitbucket.org': No such device or address",
    ),
    (  # a token without write access (GitHub)
        [
            "remote: Permission to octo/repo.git denied to bot.",
            "fatal: unable to access 'https://github.com/octo/repo.git/': The requested URL returned error: 403",
        ],
        "remote: Permission to octo/repo.git denied to bot.",
    ),
    (
        ["fatal: unable to access 'https://git.example/r.git/': The requested URL returned error: 401"],
        "fatal: unable to access 'https://git.example/r.git/': The requested URL returned error: 401",
    ),
    (  # ssh, the key is refused
        [
            "git@github.com: Permission denied (publickey).",
            "fatal: Could not read from remote repository.",
            "",
            "Please make sure you have the correct access rights",
            "and the repository exists.",
        ],
        "git@github.com: Permission denied (publickey).",
    ),
    (  # GitLab
        ["remote: HTTP Basic: Access denied", "fatal: Authentication failed for 'https://gitlab.com/g/r.git/'"],
        "remote: HTTP Basic: Access denied",
    ),
    (
        ["remote: You are not allowed to push code to this project.", "fatal: unable to access ...: error: 403"],
        "remote: You are not allowed to push code to this project.",
    ),
    # Not about credentials: these stay AGENT_CRASHED (retried).
    (["fatal: unable to access 'https://github.com/o/r.git/': Could not resolve host: github.com"], None),
    (
        [
            "ssh: connect to host github.com port 22: Connection refused",
            "fatal: Could not read from remote repository.",
        ],
        None,
    ),
    (["remote: Repository not found.", "fatal: repository 'https://github.com/o/r.git/' not found"], None),
    (["fatal: unable to access 'https://git.example/r.git/': The requested URL returned error: 500"], None),
    (["fatal: unable to access 'https://git.example/r.git/': The requested URL returned error: 4030"], None),
    (["To /srv/remote.git", " ! [rejected]        jira/DEMO-1 -> jira/DEMO-1 (fetch first)"], None),
    (["error: failed to push some refs to '/srv/remote.git'"], None),
    (["fatal: '/srv/remote.git' does not appear to be a git repository"], None),
    (["error: cannot open .git/FETCH_HEAD: Permission denied"], None),  # a local file, not the remote
    (["remote: error: insufficient permission for adding an object to repository database ./objects"], None),
    (["the tool said: Permission to proceed denied to nobody"], None),
    ([], None),
]


@pytest.mark.parametrize(("stderr", "expected"), CASES)
def test_credentials_refused(stderr: list[str], expected: str | None) -> None:
    assert credentials_refused(stderr) == expected


def test_a_url_with_a_token_is_shown_without_it() -> None:
    stderr = ["fatal: Authentication failed for 'https://bot:ghp_secretToken123@github.com/o/r.git/'"]
    assert credentials_refused(stderr) == "fatal: Authentication failed for 'https://github.com/o/r.git/'"
    assert without_userinfo("https://bot:ghp_secretToken123@github.com/o/r.git") == "https://github.com/o/r.git"
    assert without_userinfo("git@github.com:o/r.git") == "git@github.com:o/r.git"  # scp-like: only a user


def test_the_message_names_the_remote_and_what_was_refused() -> None:
    message = refusal_message("https://x:tok@git.example/r.git", "push", "remote: HTTP Basic: Access denied")
    assert (
        message
        == "https://git.example/r.git refused the agent's git credentials (push): remote: HTTP Basic: Access denied"
    )
