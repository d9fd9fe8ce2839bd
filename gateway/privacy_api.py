"""Public API for one person's data and an environment's data settings: delete users (Heap's
deletion API shape, up to 1,000 per request) and follow the deletion, export a user, read and
change retention and bot-traffic settings."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from urllib.parse import quote

from flask import Blueprint, Response, current_app, g, request
from pydantic import ValidationError

from footfall.messages import EnvironmentSettings
from footfall.redis_keys import bot_traffic_hash
from footfall.web import ApiError, found, operation
from gateway import privacy
from gateway.auth import require_account, require_env_access
from gateway.environments import redis_client
from gateway.export import UserExport

bp = Blueprint("privacy", __name__, url_prefix="/api/v1/environments/<env_id>")
TAGS = ["privacy"]

USER_REF = {"type": "object", "properties": {"user_id": {"type": ["string", "integer"]},
                                             "identity": {"type": "string"}}}
DELETION_BODY = {"type": "object", "required": ["users"], "properties": {
    "users": {"type": "array", "minItems": 1, "maxItems": 1000, "items": USER_REF}}}
SERVICE_STATUS = {"type": "object", "properties": {
    "status": {"enum": ["pending", "done", "unavailable"]}, "counts": {"type": "object"},
    "done_at": {"type": ["string", "null"]}}}
DELETION = {"type": "object", "required": ["deletion_id", "status", "services"], "properties": {
    "deletion_id": {"type": "string"}, "status": {"enum": ["queued", "running", "done"]},
    "requested_at": {"type": "string"}, "requested_by": {"type": "string"},
    "user_ids": {"type": "array", "items": {"type": "string"}},
    "services": {"type": "object", "additionalProperties": SERVICE_STATUS}}}
DELETIONS = {"type": "object", "properties": {"deletions": {"type": "array", "items": DELETION},
                                              "next_cursor": {"type": ["string", "null"]}}}
BOT_REASONS = ("crawler", "headless", "monitoring", "excluded_ip")
SETTINGS_OUT = {"type": "object", "properties": {
    **EnvironmentSettings.model_json_schema()["properties"],
    "bot_traffic_counts": {"type": "object", "description": "flagged events per day and reason (7 days)"}}}


def _settings():
    return current_app.config["SETTINGS"]


def _services():
    return current_app.extensions["services"]


def _requested_by() -> str:
    principal = g.principal
    return f"account:{principal['id']}" if principal["kind"] == "account" else "api_token"


@bp.post("/deletions")
@require_env_access
@operation("Delete users for good, with everything merged into them (at most 1,000 user ids or "
           "identities): asynchronous, answered with the deletion and its status",
           request=DELETION_BODY,
           responses={202: DELETION, 400: "a user reference is wrong (names it)", 401: "not logged in",
                      403: "no access", 413: "over 1,000 users", 415: "not JSON",
                      503: "recorded, but the broker is down: read its status to send it again"},
           tags=TAGS)
def request_deletion(env_id: str):
    body = request.get_json(silent=True) if request.is_json else None
    if not isinstance(body, dict):
        raise ApiError(415 if not request.is_json else 400, "a JSON object body is required", field="body")
    key = request.headers.get("Idempotency-Key")
    if key is not None and not 0 < len(key) <= 200:
        raise ApiError(400, "Idempotency-Key: 1 to 200 characters", field="Idempotency-Key")
    return privacy.request_deletion(env_id, body, _requested_by(), key, _settings()), 202


@bp.get("/deletions")
@require_env_access
@operation("The audit of deletions, newest first: who, when, which user ids, counts per service",
           query={"limit": {"type": "integer", "minimum": 1, "maximum": 100}, "cursor": {"type": "string"}},
           responses={200: DELETIONS, 400: "bad parameter"}, tags=TAGS)
def list_deletions(env_id: str):
    raw = request.args.get("limit", "50")
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= 100:
        raise ApiError(400, "'limit' must be an integer between 1 and 100", field="limit")
    return privacy.audit(env_id, _settings(), _services(), int(raw), request.args.get("cursor"))


@bp.get("/deletions/<deletion_id>")
@require_env_access
@operation("A deletion's status (queued, running, done) and counts per service",
           responses={200: DELETION, 404: "no such deletion"}, tags=TAGS)
def deletion_status(env_id: str, deletion_id: str):
    return found(privacy.status(env_id, deletion_id, _settings(), _services()),
                 f"no deletion {deletion_id!r} in this environment", field="deletion_id")


@bp.get("/users/<user_id>/export")
@require_env_access
@operation("Everything held about a user (properties, identities, devices, sessions, events, replays "
           "with links), streamed: one JSON document, or with format=zip a zip of CSV files",
           query={"format": {"type": "string", "enum": ["json", "zip"]}},
           responses={200: "application/json or application/zip", 400: "unknown format",
                      404: "no such user", 503: "a service is down"}, tags=TAGS)
def export_user(env_id: str, user_id: str):
    fmt = request.args.get("format", "json")
    if fmt not in ("json", "zip"):
        raise ApiError(400, "format must be json or zip", field="format")
    base = request.host_url.rstrip("/")

    def replay_url(session_id: str) -> str:
        return f"{base}/api/v1/environments/{quote(env_id, safe='')}/replays/{quote(session_id, safe='')}"

    export = UserExport(_services(), env_id, user_id, replay_url)
    name = f"footfall-user-{export.user_id}.{fmt}"
    body = export.zip() if fmt == "zip" else export.json()
    return Response(body, mimetype="application/zip" if fmt == "zip" else "application/json",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


def _bot_counts(env_id: str) -> dict[str, dict[str, int]]:
    """Events flagged as bot traffic per day and reason, the last 7 days (ingest counts them)."""
    raw = redis_client(_settings()).hgetall(bot_traffic_hash(env_id))
    since = (datetime.now(timezone.utc) - timedelta(days=7)).date().isoformat()
    counts: dict[str, dict[str, int]] = {}
    for field, value in raw.items():
        day, _, reason = field.decode().partition(":")
        if day >= since:
            counts.setdefault(day, {})[reason] = int(value)
    return dict(sorted(counts.items()))


@bp.get("/settings")
@require_env_access
@operation("The environment's data settings (retention, bot traffic, excluded addresses) and the "
           "bot traffic flagged these 7 days", responses={200: SETTINGS_OUT}, tags=TAGS)
def get_settings(env_id: str):
    current = privacy.get_settings_of(env_id, _settings())
    return {**current.model_dump(mode="json"), "bot_traffic_counts": _bot_counts(env_id)}


@bp.put("/settings")
@require_env_access
@require_account
@operation("Change the environment's data settings (any subset of the fields)",
           request=EnvironmentSettings, responses={200: SETTINGS_OUT, 400: "invalid setting (names it)",
                                                   403: "needs a logged-in account"}, tags=TAGS)
def put_settings(env_id: str):
    body = request.get_json(silent=True) if request.is_json else None
    if not isinstance(body, dict):
        raise ApiError(415 if not request.is_json else 400, "a JSON object body is required", field="body")
    unknown = sorted(set(body) - set(EnvironmentSettings.model_fields))
    if unknown:
        raise ApiError(400, f"{unknown[0]}: not a setting", field=unknown[0])
    try:
        changed = privacy.put_settings(env_id, body, _settings())
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(map(str, first["loc"]))
        raise ApiError(400, f"{field}: {first['msg']}", field=field) from None
    return {**changed.model_dump(mode="json"), "bot_traffic_counts": _bot_counts(env_id)}
