"""User deletions (requested here, carried out by every service from the bus) and per-environment
data settings (retention, bot traffic, excluded addresses), mirrored into Redis for the services.

A deletion is one `user.deletion_requested` message: identity and sessions each consume it and
delete what they hold (sessions then tells replay which sessions went). A service that is down
catches up from its queue, and each keeps its own record of what it deleted, which is what the
status composes: `queued` (none done yet), `running` (some), `done` (all three). The row here is
the audit: who asked, when, which Footfall user ids (identities are hashed on the way: no
personal data is kept).
"""
from __future__ import annotations

import ipaddress
import uuid
from datetime import datetime, timezone
from urllib.parse import quote

import orjson
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from footfall.bus import BrokerUnavailable
from footfall.config import Settings
from footfall.ids import identified_user_id, identity_key, is_user_id
from footfall.messages import (
    MAX_DELETION_USERS,
    DeletionRequested,
    EnvironmentSettings,
)
from footfall.redis_keys import ENV_SETTINGS_HASH
from footfall.web import ApiError
from gateway.environments import _publisher, redis_client
from gateway.store import deletions, environment_settings, get_engine

SERVICES = ("identity", "sessions", "replay")
_ID_NAMESPACE = uuid.UUID("0c0f6b8e-5d0b-4c8e-9a3e-6f1d2b7c9e41")


def parse_users(env_id: str, body: dict) -> tuple[list[str], list[str]]:
    """The user ids and identity keys of {"users": [{"user_id"} | {"identity"}, …]}; 400 naming
    the item that is wrong, 413 past MAX_DELETION_USERS."""
    users = body.get("users")
    if not isinstance(users, list) or not users:
        raise ApiError(400, "users: a non-empty list of {user_id} or {identity}", field="users")
    if len(users) > MAX_DELETION_USERS:
        raise ApiError(413, f"users: at most {MAX_DELETION_USERS} per request", field="users")
    user_ids, keys = [], []
    for index, item in enumerate(users):
        user_id = item.get("user_id") if isinstance(item, dict) else None
        identity = item.get("identity") if isinstance(item, dict) else None
        if isinstance(user_id, int) and not isinstance(user_id, bool):
            user_id = str(user_id)
        if isinstance(user_id, str) and identity is None and is_user_id(user_id):
            user_ids.append(user_id)
        elif isinstance(identity, str) and user_id is None and 0 < len(identity) <= 255 and "\x00" not in identity:
            user_ids.append(identified_user_id(env_id, identity))
            keys.append(identity_key(env_id, identity))
        else:
            raise ApiError(400, f"users[{index}]: one of user_id (a Footfall user id) or identity (a string)",
                           field=f"users[{index}]")
    return sorted(set(user_ids)), sorted(set(keys))


def request_deletion(env_id: str, body: dict, requested_by: str, idempotency_key: str | None,
                     settings: Settings) -> dict:
    """Record a deletion and publish it; the same idempotency key answers the same deletion."""
    user_ids, keys = parse_users(env_id, body)
    deletion_id = str(uuid.uuid5(_ID_NAMESPACE, f"{env_id}\x1f{idempotency_key}") if idempotency_key
                      else uuid.uuid4())
    now = datetime.now(timezone.utc)
    with get_engine(settings).begin() as conn:
        conn.execute(pg_insert(deletions).values(
            id=deletion_id, env_id=env_id, requested_by=requested_by, requested_at=now, user_ids=user_ids,
            idempotency_key=idempotency_key).on_conflict_do_nothing())
        row = conn.execute(select(deletions).where(deletions.c.id == deletion_id)).mappings().one()
    _publish(row, keys, settings)
    return status(row["env_id"], row["id"], settings, services=None)


def _publish(row, identity_keys: list[str], settings: Settings) -> None:
    """Publish a recorded deletion (again, when an earlier try did not reach the broker)."""
    if row["published_at"] is not None:
        return
    message = DeletionRequested(env_id=row["env_id"], deletion_id=row["id"], requested_at=row["requested_at"],
                                user_ids=row["user_ids"], identity_keys=identity_keys)
    try:
        _publisher(settings).publish(message)
    except BrokerUnavailable as exc:
        raise ApiError(503, "the deletion is recorded but the broker is unavailable; ask for its status "
                       "to send it again", deletion_id=row["id"], headers={"Retry-After": "5"}) from exc
    with get_engine(settings).begin() as conn:
        conn.execute(update(deletions).where(deletions.c.id == row["id"])
                     .values(published_at=datetime.now(timezone.utc)))


def _job(row, done: dict[str, dict | None]) -> dict:
    finished = [name for name in SERVICES if done.get(name)]
    state = "done" if len(finished) == len(SERVICES) else "running" if finished else "queued"
    return {
        "deletion_id": row["id"], "status": state, "requested_at": row["requested_at"],
        "requested_by": row["requested_by"], "user_ids": row["user_ids"],
        "services": {name: ({"status": "done", **done[name]} if done.get(name) else
                            {"status": "unavailable" if done.get(name, "") is None else "pending"})
                     for name in SERVICES},
    }


def _done_by_service(env_id: str, ids: list[str], services) -> dict[str, dict[str, dict | None]]:
    """Per service, what it reports done of these deletions (None: it did not answer)."""
    found: dict[str, dict] = {}
    for name in SERVICES:
        try:
            answer = getattr(services, name).get(f"/internal/v1/envs/{quote(env_id, safe='')}/deletions",
                                                {"ids": ",".join(ids)})
            found[name] = answer.get("deletions", {})
        except ApiError:
            found[name] = None
    return found


def status(env_id: str, deletion_id: str, settings: Settings, services) -> dict | None:
    with get_engine(settings).connect() as conn:
        row = conn.execute(select(deletions).where(deletions.c.env_id == env_id, deletions.c.id == deletion_id)
                           ).mappings().first()
    if row is None:
        return None
    _publish(row, [], settings)  # resumes a deletion the broker did not take when it was asked
    if services is None:
        return _job(row, {})
    found = _done_by_service(env_id, [deletion_id], services)
    return _job(row, {name: (None if by_id is None else by_id.get(deletion_id, {}))
                      for name, by_id in found.items()})


def audit(env_id: str, settings: Settings, services, limit: int, before: str | None) -> dict:
    """The deletions of an environment, newest first, with their status and counts."""
    query = select(deletions).where(deletions.c.env_id == env_id)
    if before:
        try:
            query = query.where(deletions.c.requested_at < datetime.fromisoformat(before))
        except ValueError:
            raise ApiError(400, "cursor: an ISO 8601 time from next_cursor", field="cursor") from None
    with get_engine(settings).connect() as conn:
        rows = conn.execute(query.order_by(deletions.c.requested_at.desc()).limit(limit)).mappings().all()
    found = _done_by_service(env_id, [r["id"] for r in rows], services) if rows else {}
    jobs = [_job(row, {name: (None if by_id is None else by_id.get(row["id"], {}))
                       for name, by_id in found.items()}) for row in rows]
    return {"deletions": jobs,
            "next_cursor": rows[-1]["requested_at"].isoformat() if len(rows) == limit else None}


# --- Data settings -----------------------------------------------------------------------------


def get_settings_of(env_id: str, settings: Settings) -> EnvironmentSettings:
    with get_engine(settings).connect() as conn:
        stored = conn.scalar(select(environment_settings.c.settings)
                             .where(environment_settings.c.env_id == env_id))
    return EnvironmentSettings.model_validate(stored or {})


def put_settings(env_id: str, changes: dict, settings: Settings) -> EnvironmentSettings:
    """Validate and store an environment's data settings, then mirror them into Redis."""
    merged = EnvironmentSettings.model_validate({**get_settings_of(env_id, settings).model_dump(), **changes})
    for index, cidr in enumerate(merged.excluded_ip_ranges):
        try:
            ipaddress.ip_network(cidr, strict=False)
        except ValueError:
            raise ApiError(400, f"excluded_ip_ranges[{index}]: not an address range like 10.0.0.0/8",
                           field=f"excluded_ip_ranges[{index}]") from None
    value = merged.model_dump(mode="json")
    with get_engine(settings).begin() as conn:
        conn.execute(pg_insert(environment_settings).values(env_id=env_id, settings=value)
                     .on_conflict_do_update(index_elements=["env_id"],
                                            set_={"settings": value, "updated_at": datetime.now(timezone.utc)}))
    redis_client(settings).hset(ENV_SETTINGS_HASH, env_id, orjson.dumps(value))
    return merged


def sync_env_settings(settings: Settings) -> int:
    """Make the Redis mirror of every environment's settings equal to the database."""
    with get_engine(settings).connect() as conn:
        rows = dict(conn.execute(select(environment_settings.c.env_id, environment_settings.c.settings)).all())
    if rows:
        redis_client(settings).hset(ENV_SETTINGS_HASH, mapping={k: orjson.dumps(v) for k, v in rows.items()})
    return len(rows)


def ensure_settings(env_id: str, defaults: dict, settings: Settings) -> None:
    """Give an environment these settings unless it has some already (bootstrap)."""
    with get_engine(settings).begin() as conn:
        conn.execute(pg_insert(environment_settings).values(
            env_id=env_id, settings=EnvironmentSettings.model_validate(defaults).model_dump(mode="json"))
            .on_conflict_do_nothing())
    sync_env_settings(settings)
