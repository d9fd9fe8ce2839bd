"""Which environments exist, read from the gateway's Redis set `footfall:environments`.

A recording token names its environment; a genuine token only ever names one the gateway has,
but the replay service checks anyway, so that no upload can create objects under an environment
that does not exist. Answers are cached briefly (a new environment is known within MISS_TTL_S);
while Redis does not answer, an environment seen in the last STALE_FOR_S still counts.
"""
from __future__ import annotations

import time
from collections.abc import Callable

import redis

from footfall.redis_keys import ENVIRONMENTS_SET
from footfall.ttlcache import MISSING, TTLCache

MAX_CACHED = 10_000


class EnvironmentsUnavailable(RuntimeError):
    """Redis did not answer, so an environment outside the cache cannot be checked."""


class KnownEnvironments:
    def __init__(self, client: redis.Redis, *, ttl: float = 60.0, miss_ttl: float = 5.0,
                 stale_for: float = 600.0, clock: Callable[[], float] = time.monotonic):
        self._redis, self._ttl, self._miss_ttl, self._stale_for = client, ttl, miss_ttl, stale_for
        self._cache = TTLCache(MAX_CACHED, clock)

    def exists(self, env_id: str) -> bool:
        cached = self._cache.fresh(env_id)
        if cached is not MISSING:
            return cached
        try:
            known = bool(self._redis.sismember(ENVIRONMENTS_SET, env_id))
        except redis.RedisError as exc:
            if self._cache.stale(env_id, self._stale_for) is True:
                return True
            raise EnvironmentsUnavailable(repr(exc)) from exc
        self._cache.put(env_id, known, self._ttl if known else self._miss_ttl)
        return known
