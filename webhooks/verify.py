"""Webhook signatures: `X-Hub-Signature[-256]: <method>=<hex HMAC of the raw body>` (Jira, GitHub; WebSub style)
and GitLab's shared token.

Pure: bytes and strings in, `InvalidSignature` out. Checked over the raw body before any JSON parsing.
"""

from __future__ import annotations

import hashlib
import hmac

# Jira says it "might start using another method for the HMAC in the future", so the method is read from the
# header; only the ones listed here are accepted (never md5/sha1, even if a sender offers them).
ACCEPTED_METHODS = {"sha256": hashlib.sha256, "sha512": hashlib.sha512}
MAX_HEADER_LENGTH = 300


class InvalidSignature(ValueError):
    """The signature header is missing, malformed, of an unknown method, or does not match the body."""


def sign_jira_body(body: bytes, secret: str, method: str = "sha256") -> str:
    """The `X-Hub-Signature` value Jira sends for `body` (also used by tests, the sandbox and the bench)."""
    digest = hmac.new(secret.encode(), body, ACCEPTED_METHODS[method]).hexdigest()
    return f"{method}={digest}"


def verify_jira_signature(body: bytes, signature_header: str | None, secret: str) -> None:
    """Raise `InvalidSignature` unless the header is a valid HMAC of `body` with `secret`."""
    verify_hub_signature(body, signature_header, secret, "X-Hub-Signature")


def verify_hub_signature(body: bytes, signature_header: str | None, secret: str, name: str) -> None:
    """Raise `InvalidSignature` unless header `name` (`<method>=<hex>`) is a valid HMAC of `body` with `secret`.

    Jira's `X-Hub-Signature` and GitHub's `X-Hub-Signature-256` have this one form.
    """
    if not signature_header:
        raise InvalidSignature(f"missing {name}")
    if len(signature_header) > MAX_HEADER_LENGTH:
        raise InvalidSignature(f"{name} is too long")
    method, sep, given = signature_header.strip().partition("=")
    algorithm = ACCEPTED_METHODS.get(method.strip().lower())
    if not sep or algorithm is None:
        raise InvalidSignature(f"{name} is not <method>=<hex> with a supported method")
    expected = hmac.new(secret.encode(), body, algorithm).hexdigest()
    # Compare bytes: compare_digest refuses non-ASCII str, and a header may carry anything.
    if not hmac.compare_digest(expected.encode(), given.strip().lower().encode("utf-8", "replace")):
        raise InvalidSignature(f"{name} does not match the body")


def verify_shared_token(given: str | None, secret: str, name: str) -> None:
    """Raise `InvalidSignature` unless header `name` carries `secret` itself (GitLab's `X-Gitlab-Token`)."""
    if not given:
        raise InvalidSignature(f"missing {name}")
    if not hmac.compare_digest(secret.encode(), given.encode("utf-8", "replace")):
        raise InvalidSignature(f"{name} does not match")
