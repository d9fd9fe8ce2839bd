"""Write keys → environments, read from Redis without a gateway round trip per request.

Contract: the gateway owns the Redis hash `footfall:write_keys` (footfall/redis_keys.py) (field = write key, value =
env_id), HSETs on create and HDELs on rotate; every key lives there, the bootstrap environment's
included, so every key can be rotated away. Ingest keeps a small in-process cache with a TTL of at
most 30 s, so a rotated key stops working within a minute. Heap's `app_id` is a write key too: an
environment id is no secret, and a credential that cannot be rotated cannot be revoked.

While Redis does not answer, or answers without the gateway's keys (restarted empty, until the
gateway puts them back), a key seen in the last STALE_FOR_S keeps working (events are worth more
than the minute a key rotated during the outage stays valid: the rotation cannot reach Redis
either); other keys answer 503 and the SDKs retry.
"""
from __future__ import annotations

import time
from collections.abc import Callable

import redis

from footfall.redis_keys import WRITE_KEYS_HASH, WRITE_KEYS_LOADED_FIELD
from footfall.ttlcache import MISSING, TTLCache

LOADED_FIELD = WRITE_KEYS_LOADED_FIELD
MAX_CACHED = 10_000  # unknown keys are cached too; bound the memory a key-guessing client can take
STALE_FOR_S = 600.0


class KeysUnavailable(RuntimeError):
    """Redis did not answer, so a key outside the cache cannot be checked (answered with 503)."""


class WriteKeys:
    """Resolves write keys (Segment's, and Heap's app_id) to env ids."""

    def __init__(self, client: redis.Redis, *, ttl: float = 30.0, miss_ttl: float = 5.0,
                 clock: Callable[[], float] = time.monotonic):
        self._redis = client
        self._ttl, self._miss_ttl = ttl, miss_ttl
        self._cache = TTLCache(MAX_CACHED, clock)

    def env_for(self, write_key: str) -> str | None:
        """The environment of a write key, or None when it is unknown (or was rotated away)."""
        cached = self._cache.fresh(write_key)
        if cached is not MISSING:
            return cached
        try:
            value = self._redis.hget(WRITE_KEYS_HASH, write_key)
            # Without the gateway's mark, Redis lost its data (restarted without persistence): until
            # the gateway puts the keys back, an unknown key may be a real one, so it is checked no
            # better than with Redis down: 503 (clients retry), never 401 (clients drop the events).
            if value is None and not self._redis.hexists(WRITE_KEYS_HASH, LOADED_FIELD):
                raise redis.RedisError("the write keys are not in Redis (yet)")
        except redis.RedisError as exc:
            stale = self._cache.stale(write_key, STALE_FOR_S)
            if stale is not MISSING and stale is not None:
                return stale
            raise KeysUnavailable(repr(exc)) from exc
        env_id = value.decode() if value is not None else None
        self._cache.put(write_key, env_id, self._ttl if env_id else self._miss_ttl)
        return env_id

    def env_for_app_id(self, app_id: str) -> str | None:
        """Heap's app_id: the environment's write key (rotated like any other)."""
        return self.env_for(app_id)
