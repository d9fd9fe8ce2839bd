"""Control plane: log in and out (/auth), environments with write keys, API tokens (/api/v1/environments)."""
from __future__ import annotations

from flask import Blueprint, current_app, g, jsonify, request

from footfall.web import ApiError, found, operation
from gateway import accounts, environments
from gateway.auth import SESSION_COOKIE, current_principal, require_account, require_env_access
from gateway.login_throttle import DEVICE_COOKIE, DEVICE_DAYS, LoginThrottle, PasswordChecks

auth_bp = Blueprint("auth", __name__, url_prefix="/auth")
envs_bp = Blueprint("environments", __name__, url_prefix="/api/v1/environments")

LOGIN_BODY = {"type": "object", "required": ["email", "password"],
              "properties": {"email": {"type": "string"}, "password": {"type": "string"}}}
TAGS = ["control plane"]


def _settings():
    return current_app.config["SETTINGS"]


@auth_bp.record_once
def _install(state) -> None:
    settings = state.app.config["SETTINGS"]
    state.app.extensions["login_throttle"] = LoginThrottle(environments.redis_client(settings))
    state.app.extensions["password_checks"] = PasswordChecks(settings.login_concurrency)


def _json_body() -> dict:
    # JSON only: a cross-site HTML form cannot send application/json without a CORS preflight.
    body = request.get_json(silent=True) if request.is_json else None
    if not isinstance(body, dict):
        raise ApiError(415 if not request.is_json else 400, "a JSON object body is required")
    return body


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
    email, password = str(body.get("email", "")).strip().lower(), str(body.get("password", ""))
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
@operation("Log out: ends the session", tags=TAGS)
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
@operation("Environments the caller may read", tags=TAGS)
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
           responses={201: "created", 409: "exists"})
def create_env():
    body = _json_body()
    env_id = str(body.get("id", "")).strip()
    return environments.create_environment(env_id, str(body.get("name") or env_id), settings=_settings()), 201


@envs_bp.get("/<env_id>")
@require_env_access
@operation("One environment with its write key", tags=TAGS, responses={200: "OK", 404: "no such environment"})
def get_env(env_id: str):
    return found(environments.get_environment(env_id, _settings()), f"no environment {env_id!r}")


@envs_bp.post("/<env_id>/write-key/rotate")
@require_env_access
@require_account
@operation("Rotate the write key: the old key stops working at ingest within 60 s", tags=TAGS)
def rotate_key(env_id: str):
    return environments.rotate_write_key(env_id, _settings())


@envs_bp.post("/<env_id>/tokens")
@require_env_access
@require_account
@operation("Create an API token for this environment (shown once)", tags=TAGS,
           request={"type": "object", "properties": {"name": {"type": "string"}}},
           responses={201: "created"})
def create_token(env_id: str):
    body = _json_body()
    if environments.get_environment(env_id, _settings()) is None:
        raise ApiError(404, f"no environment {env_id!r}")
    name = str(body.get("name") or f"token by {g.principal.get('email')}")
    return {"token": accounts.create_api_token(env_id, name, settings=_settings()), "env_id": env_id,
            "name": name}, 201
