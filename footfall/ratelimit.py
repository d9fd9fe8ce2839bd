"""A fixed-window counter in Redis: INCRBY + EXPIRE in one round trip (a mechanism, no policy).

Callers name the subject (an environment, a device, an address) and choose the limit. When Redis
does not answer the call passes: a moment without a limit is better than refusing everyone.
"""
from __future__ import annotations

import hashlib
import logging
import math
import time

import redis

from footfall import redis_keys

log = logging.getLogger("footfall.ratelimit")


class FixedWindow:
    """At most `limit` units per `window_s` seconds per subject; `limit` <= 0 turns it off."""

    def __init__(self, client: redis.Redis, name: str, limit: int, window_s: int = 60):
        self._redis, self.name, self.limit, self.window_s = client, name, limit, max(1, window_s)

    def take(self, subject: str, amount: int = 1, now: float | None = None) -> int:
        """Count `amount` for the subject: 0 when within the limit, else seconds until the next window."""
        if self.limit <= 0:
            return 0
        now = time.time() if now is None else now
        window = int(now // self.window_s)
        # Hashed: subjects may be client-chosen strings (device ids); keys stay short and uniform.
        digest = hashlib.sha256(subject.encode()).hexdigest()[:32]
        key = redis_keys.rate(self.name, digest, window)
        try:
            pipe = self._redis.pipeline(transaction=False)
            pipe.incrby(key, amount)
            pipe.expire(key, self.window_s + 1)
            count, _ = pipe.execute()
        except redis.RedisError:
            log.warning("rate limit skipped: Redis did not answer", extra={"limit": self.name})
            return 0
        if count > self.limit:
            return max(1, math.ceil((window + 1) * self.window_s - now))
        return 0
