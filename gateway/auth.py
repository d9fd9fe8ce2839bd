"""Who may call the gateway: UI session cookies (CSRF-checked on writes) or Bearer API tokens.

`require_env_access` guards every view with an `env_id` argument; `require_account` guards the few
control-plane views that act across environments. Both set `g.principal`.
"""
from __future__ import annotations

import functools
from collections.abc import Callable

from flask import current_app, g, request

from footfall.web import ApiError
from gateway import accounts

SESSION_COOKIE = "ff_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _settings():
    return current_app.config["SETTINGS"]


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None


def current_principal() -> dict | None:
    """The caller: {"kind": "token", "env_ids": [...]} or {"kind": "account", …}; None if anonymous.

    A session used for a write must carry its CSRF token in the X-CSRF-Token header (403 otherwise):
    the cookie alone is what a cross-site form would send.
    """
    if "principal" in g:
        return g.principal
    principal = None
    token = bearer_token()
    if token:
        env_id = accounts.token_env(token, _settings())
        if env_id is None:
            raise ApiError(401, "invalid or revoked API token",
                           headers={"WWW-Authenticate": 'Bearer realm="footfall"'})
        principal = {"kind": "token", "env_ids": [env_id], "is_admin": False}
    elif request.cookies.get(SESSION_COOKIE):
        account = accounts.session_account(request.cookies[SESSION_COOKIE], _settings())
        if account is not None:
            if request.method not in SAFE_METHODS and not accounts.csrf_matches(
                    account["csrf_token"], request.headers.get(CSRF_HEADER)):
                raise ApiError(403, "missing or wrong CSRF token", header=CSRF_HEADER)
            principal = {"kind": "account", **account}
    g.principal = principal
    return principal


def _require_principal() -> dict:
    principal = current_principal()
    if principal is None:
        raise ApiError(401, "authentication required: log in or send 'Authorization: Bearer <token>'",
                       headers={"WWW-Authenticate": 'Bearer realm="footfall"'})
    return principal


def may_read(principal: dict, env_id: str) -> bool:
    return principal["env_ids"] is None or env_id in principal["env_ids"]


def require_env_access(view: Callable) -> Callable:
    """Let the view run only for a caller allowed to read its `env_id`: 401 anonymous, 403 other env."""

    @functools.wraps(view)
    def guarded(*args, **kwargs):
        principal = _require_principal()
        env_id = kwargs.get("env_id")
        if env_id is None or not may_read(principal, env_id):
            raise ApiError(403, "no access to this environment")
        g.env_id = env_id
        return view(*args, **kwargs)

    return guarded


def require_account(view: Callable | None = None, *, admin: bool = False) -> Callable:
    """Let the view run only for a logged-in UI account (an admin one when admin=True)."""

    def decorate(inner: Callable) -> Callable:
        @functools.wraps(inner)
        def guarded(*args, **kwargs):
            principal = _require_principal()
            if principal["kind"] != "account":
                raise ApiError(403, "this action needs a logged-in account, not an API token")
            if admin and not principal["is_admin"]:
                raise ApiError(403, "this action needs an admin account")
            return inner(*args, **kwargs)

        return guarded

    return decorate(view) if view is not None else decorate
