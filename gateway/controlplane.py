"""Control plane: log in and out (/auth), environments with write keys, API tokens (/api/v1/environments)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Annotated

from flask import Blueprint, current_app, g, jsonify, request
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from footfall.web import ApiError, found, operation
from gateway import accounts, environments
from gateway.auth import SESSION_COOKIE, current_principal, require_account, require_env_access
from gateway.login_throttle import DEVICE_COOKIE, DEVICE_DAYS, LoginThrottle

auth_bp = Blueprint("auth", __name__, url_prefix="/auth")
envs_bp = Blueprint("environments", __name__, url_prefix="/api/v1/environments")

LOGIN_BODY = {"type": "object", "required": ["email", "password"],
              "properties": {"email": {"type": "string"}, "password": {"type": "string"}}}
TAGS = ["control plane"]


def _settings():
    return current_app.config["SETTINGS"]


def _json_body() -> dict:
    # JSON only: a cross-site HTML form cannot send application/json without a CORS preflight.
    body = request.get_json(silent=True) if request.is_json else None
    if not isinstance(body, dict):
        raise ApiError(415 if not request.is_json else 400, "a JSON object body is required")
    return body


# Printable text: PostgreSQL refuses NUL in text, and names and emails have no control characters.
PLAIN_TEXT = r"^[^\x00-\x1f\x7f]*$"


def _plain(value: object, field: str, max_length: int) -> str:
    """`value` as text of at most max_length printable characters, else a 400 naming the field."""
    text = str(value)
    if len(text) > max_length or any(ord(c) < 0x20 or ord(c) == 0x7f for c in text):
        raise ApiError(400, f"{field} must be at most {max_length} printable characters", field=field)
    return text


def _me(principal: dict) -> dict:
    return {"email": principal.get("email"), "is_admin": principal["is_admin"],
            "csrf_token": principal.get("csrf_token"),
            "environments": environments.list_environments(principal["env_ids"], _settings())}


@auth_bp.post("/login")
@operation("Log in to the UI: sets an httpOnly SameSite session cookie; answers the CSRF token",
           request=LOGIN_BODY, responses={
               200: "logged in", 400: "not a JSON object", 401: "wrong email or password",
               415: "not JSON", 429: "too many failed logins: Retry-After says when to try again",
               503: "too many logins at once; retry"}, tags=TAGS)
def login():
    body = _json_body()
    email = _plain(body.get("email", ""), "email", 254).strip().lower()
    password = _plain(body.get("password", ""), "password", 1024)
    throttle: LoginThrottle = current_app.extensions["login_throttle"]
    device = request.cookies.get(DEVICE_COOKIE)
    checked, counted = throttle.subjects(email, request.remote_addr, device)
    wait = throttle.wait_s(checked)
    if wait:
        raise ApiError(429, "too many failed logins: try again later", headers={"Retry-After": str(wait)})
    account_id = accounts.authenticate(email, password, _settings(),
                                       checks=current_app.extensions["password_checks"].run)
    if account_id is None:
        throttle.failed(counted)
        raise ApiError(401, "wrong email or password")
    device = throttle.succeeded(email, device)
    token, _ = accounts.open_session(account_id, _settings())
    principal = {"kind": "account", **accounts.session_account(token, _settings())}
    response = jsonify(_me(principal))
    # Secure whenever the request is HTTPS as seen through a trusted proxy (footfall.web).
    response.set_cookie(SESSION_COOKIE, token, max_age=int(accounts.SESSION_LIFETIME.total_seconds()),
                        httponly=True, samesite="Lax", secure=request.is_secure, path="/")
    response.set_cookie(DEVICE_COOKIE, device, max_age=DEVICE_DAYS * 86400, httponly=True,
                        samesite="Strict", secure=request.is_secure, path="/auth")
    return response


@auth_bp.post("/logout")
@operation("Log out: ends the session", tags=TAGS, responses={200: "logged out"})
def logout():
    # Ending one's own session needs no CSRF check: the worst a forged logout does is log you out.
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        accounts.close_session(token, _settings())
    response = jsonify({"ok": True})
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@auth_bp.get("/me")
@operation("The logged-in account, its environments and its CSRF token", tags=TAGS,
           responses={200: "OK", 401: "not logged in"})
def me():
    principal = current_principal()
    if principal is None or principal["kind"] != "account":
        raise ApiError(401, "not logged in")
    return _me(principal)


@envs_bp.get("")
@operation("Environments the caller may read", tags=TAGS,
           responses={200: "OK", 401: "not logged in and no API token", 403: "a missing CSRF token"})
def list_envs():
    principal = current_principal()
    if principal is None:
        raise ApiError(401, "authentication required")
    return {"environments": environments.list_environments(principal["env_ids"], _settings())}


@envs_bp.post("")
@require_account(admin=True)
@operation("Create an environment with a fresh write key (admin)", tags=TAGS,
           request={"type": "object", "required": ["id"], "properties": {
               "id": {"type": "string"}, "name": {"type": "string"}}},
           responses={201: "created", 400: "invalid id", 401: "not logged in",
                      403: "not an admin account, or a missing CSRF token", 409: "exists", 415: "not JSON"})
def create_env():
    body = _json_body()
    env_id = str(body.get("id", "")).strip()
    name = _plain(body.get("name") or env_id, "name", 200)
    return environments.create_environment(env_id, name, settings=_settings()), 201


@envs_bp.get("/<env_id>")
@require_env_access
@operation("One environment with its write key", tags=TAGS, responses={
    200: "OK", 401: "not logged in and no API token", 403: "no access to this environment",
    404: "no such environment"})
def get_env(env_id: str):
    return found(environments.get_environment(env_id, _settings()), f"no environment {env_id!r}")


@envs_bp.post("/<env_id>/write-key/rotate")
@require_env_access
@require_account
@operation("Rotate the write key: the old key stops working at ingest within 60 s", tags=TAGS, responses={
    200: "the environment with its new key", 401: "not logged in",
    403: "no access to this environment (API tokens cannot rotate), or a missing CSRF token",
    404: "no such environment"})
def rotate_key(env_id: str):
    return environments.rotate_write_key(env_id, _settings())


class NewToken(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200, pattern=PLAIN_TEXT)] = ""
    expires_in_days: int | None = Field(None, ge=1, le=3650, description="none: until revoked")


class Token(BaseModel):
    """An API token as listed: never its secret."""

    id: int
    name: str
    created_by: str | None
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None = Field(description="updated at most once a minute")
    revoked_at: datetime | None


class TokenList(BaseModel):
    tokens: list[Token]


class CreatedToken(Token):
    token: str = Field(description="the secret, shown this once")
    env_id: str


TOKEN_ERRORS = {401: "not logged in", 403: "not an account of this environment (API tokens cannot manage "
                "tokens), or a missing CSRF token"}


@envs_bp.get("/<env_id>/tokens")
@require_env_access
@require_account
@operation("List this environment's API tokens: name, creator, expiry, last use, revocation", tags=TAGS,
           responses={200: TokenList, **TOKEN_ERRORS})
def list_tokens(env_id: str):
    return TokenList(tokens=accounts.list_api_tokens(env_id, _settings())).model_dump(mode="json")


@envs_bp.post("/<env_id>/tokens")
@require_env_access
@require_account
@operation("Create an API token for this environment (its secret is shown once)", tags=TAGS,
           request=NewToken, responses={201: CreatedToken, 400: "invalid name or expiry", 404: "no such environment",
                                        415: "not JSON", **TOKEN_ERRORS})
def create_token(env_id: str):
    body = NewToken.model_validate(_json_body())
    if environments.get_environment(env_id, _settings()) is None:
        raise ApiError(404, f"no environment {env_id!r}")
    email = g.principal.get("email")
    expires_at = (datetime.now(timezone.utc) + timedelta(days=body.expires_in_days)
                  if body.expires_in_days else None)
    secret = accounts.create_api_token(env_id, body.name or f"token by {email}", settings=_settings(),
                                       expires_at=expires_at, created_by=email)
    listed = accounts.token_by_secret(secret, _settings())
    return CreatedToken(**listed, token=secret, env_id=env_id).model_dump(mode="json"), 201


@envs_bp.delete("/<env_id>/tokens/<int:token_id>")
@require_env_access
@require_account
@operation("Revoke an API token: refused everywhere within 5 seconds", tags=TAGS,
           responses={200: Token, 404: "no such token in this environment", **TOKEN_ERRORS})
def revoke_token(env_id: str, token_id: int):
    if token_id >= 2**63:  # ids are bigint: a larger number names no token, and must not reach PostgreSQL
        raise ApiError(404, "no such API token in this environment")
    return Token(**found(accounts.revoke_api_token(env_id, token_id, _settings()),
                         "no such API token in this environment", token_id=token_id)).model_dump(mode="json")
