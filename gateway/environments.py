"""Environments and their write keys: the gateway owns them, ingest and replay learn keys from here.

The database is the source of truth; every key is mirrored into the Redis hash
`footfall:write_keys` (field = key, value = env_id) so ingest resolves keys without a gateway round
trip per event. Rotation HDELs the old key, so it stops working at ingest once its cache (≤ 30 s)
expires. Every key is one of these, the bootstrap environment's included: all can be rotated.
The set `footfall:environments` names every environment, for the replay service to check the
environment of a recording token.
"""
from __future__ import annotations

import logging
import re
import secrets
import threading
import time

import redis
from sqlalchemy import select, update

from footfall.bus import BrokerUnavailable, Publisher
from footfall.config import Settings, get_settings
from footfall.messages import EnvironmentChanged
from footfall.redis_keys import ENVIRONMENTS_SET, WRITE_KEYS_HASH, WRITE_KEYS_LOADED_FIELD
from footfall.web import ApiError
from gateway.store import environments, get_engine

log = logging.getLogger("footfall.gateway")

LOADED_FIELD = WRITE_KEYS_LOADED_FIELD
ENV_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
MAX_NAME = 200  # the column's size

_redis: dict[str, redis.Redis] = {}
_publishers: dict[str, Publisher] = {}
_lock = threading.Lock()


def redis_client(settings: Settings | None = None) -> redis.Redis:
    settings = settings or get_settings()
    with _lock:
        if settings.redis_url not in _redis:
            _redis[settings.redis_url] = redis.Redis.from_url(
                settings.redis_url, socket_timeout=2, socket_connect_timeout=2)
        return _redis[settings.redis_url]


def _publisher(settings: Settings) -> Publisher:
    with _lock:
        if settings.amqp_url not in _publishers:
            _publishers[settings.amqp_url] = Publisher(settings)
        return _publishers[settings.amqp_url]


def new_write_key() -> str:
    return "wk_" + secrets.token_urlsafe(24)


def env_for_write_key(write_key: str, settings: Settings | None = None) -> str | None:
    """The environment a write key belongs to, or None (rotated keys answer None at once)."""
    if not write_key:
        return None
    with get_engine(settings or get_settings()).connect() as conn:
        return conn.scalar(select(environments.c.id).where(environments.c.write_key == write_key))


def get_environment(env_id: str, settings: Settings | None = None) -> dict | None:
    with get_engine(settings).connect() as conn:
        row = conn.execute(select(environments).where(environments.c.id == env_id)).mappings().first()
    return _public(row) if row else None


def list_environments(env_ids: list[str] | None = None, settings: Settings | None = None) -> list[dict]:
    """Every environment, or only those in env_ids."""
    query = select(environments).order_by(environments.c.created_at, environments.c.id)
    if env_ids is not None:
        query = query.where(environments.c.id.in_(env_ids))
    with get_engine(settings).connect() as conn:
        return [_public(row) for row in conn.execute(query).mappings()]


def create_environment(env_id: str, name: str, write_key: str | None = None,
                       settings: Settings | None = None) -> dict:
    """Create an environment with a fresh (or given) write key; 409 when the id is taken."""
    settings = settings or get_settings()
    if not ENV_ID_PATTERN.match(env_id):
        raise ApiError(400, "env id must be 1-64 lowercase letters, digits, '-' or '_'", field="id")
    if len(name) > MAX_NAME:
        raise ApiError(400, f"name must be at most {MAX_NAME} characters", field="name")
    write_key = write_key or new_write_key()
    with get_engine(settings).begin() as conn:
        exists = conn.scalar(select(environments.c.id).where(
            (environments.c.id == env_id) | (environments.c.write_key == write_key)))
        if exists:
            raise ApiError(409, f"environment {env_id!r} or its write key already exists", field="id")
        conn.execute(environments.insert().values(id=env_id, name=name, write_key=write_key))
    pipe = redis_client(settings).pipeline()
    pipe.sadd(ENVIRONMENTS_SET, env_id)
    pipe.hset(WRITE_KEYS_HASH, mapping={write_key: env_id, LOADED_FIELD: ""})
    pipe.execute()
    _announce(env_id, "created", settings)
    return get_environment(env_id, settings)


def rotate_write_key(env_id: str, settings: Settings | None = None) -> dict:
    """Give an environment a new write key; the old one is removed from Redis at once."""
    settings = settings or get_settings()
    new_key = new_write_key()
    with get_engine(settings).begin() as conn:
        old_key = conn.scalar(select(environments.c.write_key)
                              .where(environments.c.id == env_id).with_for_update())
        if old_key is None:
            raise ApiError(404, f"no environment {env_id!r}")
        conn.execute(update(environments).where(environments.c.id == env_id).values(write_key=new_key))
    client = redis_client(settings)
    pipe = client.pipeline()
    pipe.hdel(WRITE_KEYS_HASH, old_key)
    pipe.hset(WRITE_KEYS_HASH, mapping={new_key: env_id, LOADED_FIELD: ""})
    pipe.execute()
    _announce(env_id, "key_rotated", settings)
    return get_environment(env_id, settings)


def sync_write_keys(settings: Settings | None = None) -> int:
    """Make the Redis hash and set equal to the database (after a Redis flush, at bootstrap and
    at the gateway's start)."""
    settings = settings or get_settings()
    with get_engine(settings).connect() as conn:
        keys = dict(conn.execute(select(environments.c.write_key, environments.c.id)).all())
    client = redis_client(settings)
    stale = [k.decode() for k in client.hkeys(WRITE_KEYS_HASH) if k.decode() not in keys]
    gone = [e.decode() for e in client.smembers(ENVIRONMENTS_SET) if e.decode() not in keys.values()]
    stale = [k for k in stale if k != LOADED_FIELD]
    pipe = client.pipeline()
    if stale:
        pipe.hdel(WRITE_KEYS_HASH, *stale)
    if gone:
        pipe.srem(ENVIRONMENTS_SET, *gone)
    pipe.hset(WRITE_KEYS_HASH, mapping={**keys, LOADED_FIELD: ""})
    if keys:
        pipe.sadd(ENVIRONMENTS_SET, *keys.values())
    pipe.execute()
    return len(keys)


# How often each gateway process checks that Redis still holds the write keys: below ingest's key
# cache (30 s), so keys in use never fall out of Redis for longer than ingest remembers them.
KEY_CHECK_EVERY_S = 10.0
_watched: set[str] = set()


def keep_write_keys_in_redis(settings: Settings, every: float = KEY_CHECK_EVERY_S) -> None:
    """Put the write keys back whenever Redis lost them (restarted without persistence); until
    then ingest answers 503 for keys it has not cached. One watcher thread per process and Redis."""
    with _lock:
        if settings.redis_url in _watched:
            return
        _watched.add(settings.redis_url)

    def watch() -> None:
        while True:
            time.sleep(every)
            try:
                if not redis_client(settings).hexists(WRITE_KEYS_HASH, LOADED_FIELD):
                    if restored := sync_write_keys(settings):
                        log.warning("Redis had lost the write keys; %d put back", restored)
            except Exception:  # Redis or the database down: the next round tries again
                log.debug("write keys not checked", exc_info=True)

    threading.Thread(target=watch, name="write-keys-watch", daemon=True).start()


def _announce(env_id: str, action: str, settings: Settings) -> None:
    """Publish EnvironmentChanged; the Redis hash already carries the key, so a broker outage only logs."""
    try:
        _publisher(settings).publish(EnvironmentChanged(env_id=env_id, action=action))
    except BrokerUnavailable:
        log.warning("environment.changed not published (broker down or no queue bound)", extra={"env_id": env_id})


def _public(row) -> dict:
    return {"id": row["id"], "name": row["name"], "write_key": row["write_key"],
            "created_at": row["created_at"]}
