"""How far the feed is behind what ingest accepted, per environment (a mechanism, no policy).

RabbitMQ's management API is not assumed, and a queue's length says nothing of its age; so the
two ends of the events path leave marks in Redis (two hashes, field = environment id):

- ingest, before publishing events: `accepted` = the message's sent_at, and `pending_since` = the
  same time unless a time is there already (the oldest event not yet stored, as far as known);
- the sessions events consumer, after committing a batch: per environment, the newest sent_at it
  stored. When nothing newer was accepted, `pending_since` goes (caught up); otherwise it moves up
  to that sent_at (what is still waiting was accepted after it: messages are consumed in order).

So `now - pending_since` bounds the age of the oldest unprocessed event from above: it grows while
the consumer is down or slow, and it is gone a fraction of a second after the consumer catches
up. Marks are best effort: when Redis does not answer, nobody is held up and the lag is unknown.
Times are epoch seconds (floats) from each process's clock.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable

import redis

log = logging.getLogger("footfall.pipeline_lag")

ACCEPTED_HASH = "footfall:pipeline:accepted"
PENDING_HASH = "footfall:pipeline:pending_since"
STORED_HASH = "footfall:pipeline:stored"

# KEYS: accepted, pending, stored hashes; ARGV: env id, newest sent_at stored (epoch seconds).
_STORED = """
local stored = tonumber(ARGV[2])
local last = tonumber(redis.call('HGET', KEYS[3], ARGV[1]) or '0')
if stored > last then redis.call('HSET', KEYS[3], ARGV[1], ARGV[2]) end
local accepted = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
if accepted <= stored then
  redis.call('HDEL', KEYS[2], ARGV[1])
else
  local pending = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0')
  if pending < stored then redis.call('HSET', KEYS[2], ARGV[1], ARGV[2]) end
end
return 1
"""


class Marks:
    """The marks one process leaves; after Redis fails to answer, none for QUIET_S seconds (a
    down Redis must not add its timeout to every request or batch)."""

    QUIET_S = 10.0

    def __init__(self, client: redis.Redis, clock: Callable[[], float] = time.monotonic):
        self._redis, self._clock, self._quiet_until = client, clock, 0.0
        self._script = client.register_script(_STORED)

    def accepted(self, env_id: str, at: float) -> None:
        """Ingest: events of env_id sent at `at` are about to be published (one round trip)."""
        if self._quiet():
            return
        try:
            pipe = self._redis.pipeline(transaction=False)
            pipe.hset(ACCEPTED_HASH, env_id, repr(at))
            pipe.hsetnx(PENDING_HASH, env_id, repr(at))
            pipe.execute()
        except redis.RedisError:
            self._failed()

    def stored(self, newest: dict[str, float]) -> None:
        """The sessions consumer: per environment, the newest sent_at of what it just committed."""
        if not newest or self._quiet():
            return
        try:
            pipe = self._redis.pipeline(transaction=False)
            for env_id, at in newest.items():
                self._script(keys=[ACCEPTED_HASH, PENDING_HASH, STORED_HASH], args=[env_id, repr(at)],
                             client=pipe)
            pipe.execute()
        except redis.RedisError:
            self._failed()

    def _quiet(self) -> bool:
        return self._clock() < self._quiet_until

    def _failed(self) -> None:
        log.warning("pipeline lag not marked: Redis did not answer; next try in %.0f s", self.QUIET_S)
        self._quiet_until = self._clock() + self.QUIET_S


def lag(client: redis.Redis, env_id: str, now: float) -> dict:
    """{behind_s, pending_since, last_accepted, last_stored} of an environment (None: unknown / none).

    Raises redis.RedisError: the caller says the lag is unknown rather than zero.
    """
    pipe = client.pipeline(transaction=False)
    for key in (PENDING_HASH, ACCEPTED_HASH, STORED_HASH):
        pipe.hget(key, env_id)
    pending, accepted, stored = (float(v) if v is not None else None for v in pipe.execute())
    return {"behind_s": max(0.0, now - pending) if pending is not None else 0.0,
            "pending_since": pending, "last_accepted": accepted, "last_stored": stored}
