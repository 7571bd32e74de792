"""Named users and their personal tokens: add (the token is shown once), list, revoke, and who a token belongs to.

A token is 32 random bytes (URL-safe text with a `jo_` prefix); only its SHA-256 is stored, which is enough for a
token of that entropy (no salt or slow hash needed: nothing can be guessed from the digest). The lookup is by the
digest, then compared again with `hmac.compare_digest`, so no timing tells how close a wrong token came.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from app.store.models import User, utcnow
from workflows.ids import is_account_id

TOKEN_PREFIX = "jo_"  # noqa: S105 - a visible prefix that marks our tokens, not a secret
USER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")


class UserError(ValueError):
    """A user that cannot be added or revoked as asked (the message says why)."""


@dataclass(frozen=True)
class UserView:
    """A user as listed: never the token or its digest."""

    id: int
    name: str
    account_id: str
    created_at: datetime
    revoked_at: datetime | None


def token_digest(token: str) -> str:
    """The stored form of a personal token: its SHA-256, hex."""
    return hashlib.sha256(token.encode()).hexdigest()


def _view(user: User) -> UserView:
    return UserView(user.id, user.name, user.account_id, user.created_at, user.revoked_at)


class UserService:
    """Users in the orchestrator's database."""

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self.session_factory = session_factory

    def add(self, name: str, account_id: str) -> tuple[UserView, str]:
        """Add a user (or give a revoked one a new token); returns the user and the token, which is never stored."""
        if not USER_NAME.match(name):
            raise UserError(f"not a user name (letters, digits, . _ @ -, up to 64): {name[:70]!r}")
        if not is_account_id(account_id):
            raise UserError(f"not a Jira account id: {account_id[:140]!r}")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self.session_factory.begin() as session:
            user = session.scalar(select(User).where(User.name == name))
            if user is not None and user.revoked_at is None:
                raise UserError(f"{name} already has a token; revoke it first to issue a new one")
            if user is None:
                user = User(name=name)
                session.add(user)
            user.account_id = account_id
            user.token_sha256 = token_digest(token)
            user.created_at = utcnow()
            user.revoked_at = None
            session.flush()
            return _view(user), token

    def list(self) -> list[UserView]:
        """Every user, revoked ones included, by name."""
        with self.session_factory() as session:
            return [_view(user) for user in session.scalars(select(User).order_by(User.name))]

    def revoke(self, name: str) -> UserView:
        """Revoke a user's token at once (API calls and console sessions stop working)."""
        with self.session_factory.begin() as session:
            user = session.scalar(select(User).where(User.name == name))
            if user is None:
                raise UserError(f"no user named {name[:70]!r}")
            if user.revoked_at is None:
                user.revoked_at = utcnow()
            return _view(user)

    def by_token(self, token: str) -> UserView | None:
        """The active user holding this token, or None."""
        digest = token_digest(token)
        with self.session_factory() as session:
            user = session.scalar(select(User).where(User.token_sha256 == digest))
            if user is None or user.revoked_at is not None:
                return None
            if not hmac.compare_digest(user.token_sha256, digest):
                return None
            return _view(user)

    def by_name(self, name: str) -> UserView | None:
        """The active user of this name (case-insensitive, as an SSO proxy's e-mail header may be), or None; None
        too when two active users differ only in case (the header cannot tell them apart)."""
        wanted = name.strip().lower()
        with self.session_factory() as session:
            query = select(User).where(func.lower(User.name) == wanted, User.revoked_at.is_(None))
            found = list(session.scalars(query))
            return _view(found[0]) if wanted and len(found) == 1 else None

    def active(self, user_id: int) -> UserView | None:
        """The user with this id unless revoked (a console session is checked on every request)."""
        with self.session_factory() as session:
            user = session.get(User, user_id)
            return None if user is None or user.revoked_at is not None else _view(user)
