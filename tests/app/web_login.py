"""Test helpers for named users and console sessions: add a user, read a form's CSRF token, log in."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient

from app.services.users import UserService

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def add_user(app: Flask, name: str, account_id: str) -> str:
    """Add a user to the app's database and return their personal token."""
    _, token = UserService(app.extensions["session_factory"]).add(name, account_id)
    return token


def csrf_of(client: FlaskClient, path: str = "/login") -> str:
    """The CSRF token in the page's form."""
    return csrf_in(client.get(path).get_data(as_text=True), path)


def csrf_in(page: str, path: str = "the page") -> str:
    """The CSRF token in a page already fetched."""
    found = CSRF.search(page)
    assert found, f"no CSRF field on {path}"
    return found.group(1)


def log_in(client: FlaskClient, token: str, next: str = "/") -> None:
    """Log in through the form, as a browser would."""
    response = client.post("/login", data={"csrf_token": csrf_of(client), "token": token, "next": next})
    assert response.status_code == 302, response.get_data(as_text=True)
