"""Write keys → environments, read from Redis without a gateway round trip per request.

Contract (contracts.md): the gateway owns the Redis hash `footfall:write_keys` (field = write key,
value = env_id), HSETs on create and HDELs on rotate. Ingest keeps a small in-process cache with a
TTL of at most 30 s (so a rotated key stops working within a minute) plus the bootstrap
environment from Settings (`FOOTFALL_ENV_ID` / `FOOTFALL_WRITE_KEY`), which needs no Redis at all.
"""
from __future__ import annotations

import time
from collections.abc import Callable

import redis

WRITE_KEYS_HASH = "footfall:write_keys"
MAX_CACHED = 10_000  # unknown keys are cached too; bound the memory a key-guessing client can take


class KeysUnavailable(RuntimeError):
    """Redis did not answer, so a key outside the cache cannot be checked (answered with 503)."""


class WriteKeys:
    """Resolves write keys (Segment) and app ids (Heap: environment id or write key) to env ids."""

    def __init__(self, client: redis.Redis, bootstrap: dict[str, str], *, ttl: float = 30.0,
                 miss_ttl: float = 5.0, clock: Callable[[], float] = time.monotonic):
        self._redis, self._bootstrap = client, dict(bootstrap)
        self._ttl, self._miss_ttl, self._clock = ttl, miss_ttl, clock
        self._cache: dict[str, tuple[str | None, float]] = {}
        self._envs: tuple[frozenset[str], float] = (frozenset(), 0.0)

    def env_for(self, write_key: str) -> str | None:
        """The environment of a write key, or None when it is unknown (or was rotated away)."""
        if write_key in self._bootstrap:
            return self._bootstrap[write_key]
        now = self._clock()
        cached = self._cache.get(write_key)
        if cached is not None and cached[1] > now:
            return cached[0]
        try:
            value = self._redis.hget(WRITE_KEYS_HASH, write_key)
        except redis.RedisError as exc:
            raise KeysUnavailable(repr(exc)) from exc
        env_id = value.decode() if value is not None else None
        if len(self._cache) >= MAX_CACHED:
            self._cache.clear()
        self._cache[write_key] = (env_id, now + (self._ttl if env_id else self._miss_ttl))
        return env_id

    def env_for_app_id(self, app_id: str) -> str | None:
        """Heap's app_id: a write key, or the id of an environment that has one."""
        env_id = self.env_for(app_id)
        if env_id is not None:
            return env_id
        if app_id in self._bootstrap.values():
            return app_id
        return app_id if app_id in self._known_envs() else None

    def _known_envs(self) -> frozenset[str]:
        envs, expires = self._envs
        now = self._clock()
        if expires > now:
            return envs
        try:
            envs = frozenset(value.decode() for value in self._redis.hvals(WRITE_KEYS_HASH))
        except redis.RedisError as exc:
            raise KeysUnavailable(repr(exc)) from exc
        self._envs = (envs, now + self._miss_ttl)
        return envs
