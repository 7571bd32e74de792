"""`verify_jira_signature`: Atlassian's test vector, and every way a signature can be wrong."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from webhooks.verify import InvalidSignature, sign_jira_body, verify_jira_signature

# FACTS §2.1: Atlassian's own example.
VECTOR_SECRET = "It's a Secret to Everybody"
VECTOR_BODY = b"Hello World!"
VECTOR_HEADER = "sha256=a4771c39fbe90f317c7824e83ddef3caae9cb3d976c214ace1f2937e133263c9"


def test_atlassian_test_vector_verifies() -> None:
    assert sign_jira_body(VECTOR_BODY, VECTOR_SECRET) == VECTOR_HEADER
    verify_jira_signature(VECTOR_BODY, VECTOR_HEADER, VECTOR_SECRET)


def test_method_and_hex_case_are_read_from_the_header() -> None:
    verify_jira_signature(VECTOR_BODY, VECTOR_HEADER.upper(), VECTOR_SECRET)
    verify_jira_signature(VECTOR_BODY, sign_jira_body(VECTOR_BODY, VECTOR_SECRET, "sha512"), VECTOR_SECRET)


@pytest.mark.parametrize(
    ("body", "header", "why"),
    [
        (VECTOR_BODY, None, "missing"),
        (VECTOR_BODY, "", "missing"),
        (VECTOR_BODY + b" ", VECTOR_HEADER, "does not match"),
        (VECTOR_BODY, VECTOR_HEADER[:-1] + "0", "does not match"),
        (VECTOR_BODY, VECTOR_HEADER.removeprefix("sha256="), "not <method>=<hex>"),
        (VECTOR_BODY, "md5=" + hashlib.md5(VECTOR_BODY).hexdigest(), "supported method"),
        (VECTOR_BODY, "sha1=" + hmac.new(VECTOR_SECRET.encode(), VECTOR_BODY, "sha1").hexdigest(), "supported method"),
        (VECTOR_BODY, "sha256=" + "é" * 64, "does not match"),
        (VECTOR_BODY, "sha256=" + "a" * 400, "too long"),
    ],
)
def test_wrong_signatures_are_refused(body: bytes, header: str | None, why: str) -> None:
    with pytest.raises(InvalidSignature, match=why):
        verify_jira_signature(body, header, VECTOR_SECRET)


def test_another_secret_does_not_verify() -> None:
    with pytest.raises(InvalidSignature, match="does not match"):
        verify_jira_signature(VECTOR_BODY, VECTOR_HEADER, "another secret")


def test_refusals_never_contain_the_secret_or_the_expected_digest() -> None:
    with pytest.raises(InvalidSignature) as caught:
        verify_jira_signature(VECTOR_BODY, "sha256=00", VECTOR_SECRET)
    assert VECTOR_SECRET not in str(caught.value)
    assert VECTOR_HEADER.removeprefix("sha256=") not in str(caught.value)
