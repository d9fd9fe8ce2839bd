"""Internal HTTP API of the identity service: users (following merges), devices, warnings."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, current_app, request
from pydantic import BaseModel
from sqlalchemy import Engine
from sqlalchemy.engine import Connection

from footfall.ids import identified_user_id
from footfall.messages import Scalar
from footfall.web import ApiError, found, operation
from services.identity import deletion, store

bp = Blueprint("identity", __name__, url_prefix="/internal/v1/envs/<env_id>")


class UserOut(BaseModel):
    user_id: str
    identity: str | None
    display_name: str
    first_seen: datetime | None
    last_seen: datetime | None
    properties: dict[str, Scalar]
    version: int
    merged_into: str | None  # set when the id asked for was merged away into this user
    user_ids: list[str]  # every id this user owns (its own and the anonymous ones merged in)


class DeviceOut(BaseModel):
    device_id: str
    user_ids: list[str]  # the ids it was seen under
    first_seen: datetime


class DevicesOut(BaseModel):
    user_id: str
    identities: list[str]
    user_ids: list[str]
    devices: list[DeviceOut]


class WarningOut(BaseModel):
    id: int
    key: str
    kind: str
    message: str
    subject: str | None
    details: dict[str, Any]
    occurred_at: datetime
    recorded_at: datetime


class WarningsOut(BaseModel):
    warnings: list[WarningOut]
    next_cursor: str | None


@bp.url_value_preprocessor
def _refuse_nul(_endpoint, values: dict | None) -> None:
    """PostgreSQL text cannot hold NUL, so no id or identity containing one exists."""
    for name, value in (values or {}).items():
        if isinstance(value, str) and "\x00" in value:
            raise ApiError(404, f"no {name} contains a NUL character", field=name)


def _engine() -> Engine:
    return current_app.extensions["identity_engine"]


def _owner(conn: Connection, env_id: str, user_id: str) -> str:
    return found(store.owner_of(conn, env_id, user_id),
                 f"no user {user_id!r} in environment {env_id!r}", field="user_id")


def _user(conn: Connection, env_id: str, user_id: str) -> dict:
    owner = _owner(conn, env_id, user_id)
    snapshots, _ = store.load_users(conn, env_id, [owner])
    snapshot = snapshots[owner]
    return {
        **snapshot.model_dump(mode="json"),
        "display_name": snapshot.identity or f"User {owner}",
        "merged_into": owner if owner != user_id else None,
        "user_ids": store.member_ids(conn, env_id, owner),
    }


@bp.get("/users/<user_id>")
@operation("A user by id; a merged-away id answers the surviving user with `merged_into`",
           responses={200: UserOut, 404: "unknown user"}, tags=["users"])
def user(env_id: str, user_id: str):
    with _engine().connect() as conn:
        return _user(conn, env_id, user_id)


@bp.get("/users/by-identity/<path:identity>")
@operation("A user by identity", responses={200: UserOut, 404: "unknown identity"}, tags=["users"])
def user_by_identity(env_id: str, identity: str):
    with _engine().connect() as conn:
        return _user(conn, env_id, identified_user_id(env_id, identity))


@bp.get("/users/<user_id>/devices")
@operation("A user's devices, ids and identities (following merges)",
           responses={200: DevicesOut, 404: "unknown user"}, tags=["users"])
def user_devices(env_id: str, user_id: str):
    with _engine().connect() as conn:
        owner = _owner(conn, env_id, user_id)
        snapshots, _ = store.load_users(conn, env_id, [owner])
        identity = snapshots[owner].identity
        return {"user_id": owner, "identities": [identity] if identity else [],
                "user_ids": store.member_ids(conn, env_id, owner),
                "devices": store.user_devices(conn, env_id, owner)}


@bp.get("/warnings")
@operation("Ingestion warnings (refused identities, refused or dropped properties), newest first",
           responses={200: WarningsOut, 400: "invalid query"}, tags=["warnings"],
           query={"limit": {"type": "integer", "minimum": 1, "maximum": 500},
                  "cursor": {"type": "string"}})
def list_warnings(env_id: str):
    limit = request.args.get("limit", "100")
    cursor = request.args.get("cursor")
    # isascii: '²'.isdigit() is true, and int('²') raises.
    if not (limit.isascii() and limit.isdigit()) or not 1 <= int(limit) <= 500:
        raise ApiError(400, "limit must be an integer from 1 to 500", field="limit")
    if cursor is not None and not (cursor.isascii() and cursor.isdigit() and len(cursor) < 19):
        raise ApiError(400, "cursor must be a cursor returned by this endpoint", field="cursor")
    with _engine().connect() as conn:
        rows = store.list_warnings(conn, env_id, int(limit), int(cursor) if cursor else None)
    next_cursor = str(rows[-1]["id"]) if len(rows) == int(limit) else None
    return {"warnings": rows, "next_cursor": next_cursor}


class KindSummary(BaseModel):
    kind: str
    count: int
    latest: datetime
    examples: list[WarningOut]


class WarningsSummaryOut(BaseModel):
    kinds: list[KindSummary]
    scanned: int  # how many of the newest warnings were counted
    complete: bool  # false: there are more than `scanned`, older ones are not counted


@bp.get("/warnings/summary")
@operation("Ingestion warnings counted per kind, with the newest examples of each (over the newest "
           "10,000 warnings)", responses={200: WarningsSummaryOut}, tags=["warnings"])
def warnings_summary(env_id: str):
    with _engine().connect() as conn:
        return store.summarize_warnings(conn, env_id)


@bp.get("/deletions")
@operation("Deletions done here, by id: counts and time (no personal data)",
           query={"ids": {"type": "string", "description": "comma-separated deletion ids (at most 100)",
                          "required": True}},
           responses={200: {"type": "object"}, 400: "invalid ids"}, tags=["privacy"])
def deletions(env_id: str):
    ids = [i for i in request.args.get("ids", "").split(",") if i]
    if not ids or len(ids) > 100:
        raise ApiError(400, "ids: 1 to 100 comma-separated deletion ids", field="ids")
    with _engine().connect() as conn:
        return {"deletions": deletion.deletion_status(conn, env_id, ids)}
