"""Login throttling: backoff per account and per client address that cannot lock the owner out.

A subject (an account, a client address, a known browser) may fail FREE failures; each failure
after that locks it for twice as long as the one before (1 s, 2 s, 4 s …) up to a cap. While a
subject is locked, attempts are answered 429 with Retry-After and no password is checked: no
argon2 work, and no answer to learn from. Failures are forgotten FORGET_S after the last one.

A browser that has logged in to an account carries a device cookie (random; Redis keeps its
digest for DEVICE_DAYS). Its attempts on that account are throttled by its own failures only, not
by the account's or its address's: someone failing against the admin from anywhere, even from the
admin's own network, locks out guessers, never the admin's own browsers. A browser without the
cookie waits at most the caps (15 minutes for an account) before it may try again.

When Redis does not answer, logins are not throttled (and the bounded password checks still keep
the CPU for everyone else).
"""
from __future__ import annotations

import hashlib
import logging
import math
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import redis
from prometheus_client import Gauge

from footfall import redis_keys
from footfall.web import ApiError

log = logging.getLogger("footfall.gateway")

DEVICE_COOKIE = "ff_device"
DEVICE_DAYS = 90
FORGET_S = 24 * 3600
CHECKS_IN_FLIGHT = Gauge("login_password_checks_in_flight", "argon2 password checks running now",
                         multiprocess_mode="livesum")


@dataclass(frozen=True)
class Backoff:
    """How many failures are free, and the longest lock."""

    free: int
    cap_s: int

    def lock_s(self, failures: int) -> int:
        """Seconds a subject is locked after its `failures`-th failure (0 while free)."""
        if failures <= self.free:
            return 0
        return min(self.cap_s, 2 ** min(failures - self.free - 1, 30))


ACCOUNT = Backoff(free=5, cap_s=15 * 60)
ADDRESS = Backoff(free=20, cap_s=60 * 60)  # an office behind one NAT shares an address
DEVICE = Backoff(free=5, cap_s=15 * 60)


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:40]


class LoginThrottle:
    def __init__(self, client: redis.Redis, clock: Callable[[], float] = time.time):
        self._redis, self.clock = client, clock

    def subjects(self, email: str, address: str | None, device: str | None) -> tuple[list, list]:
        """(subjects whose locks apply, subjects a failure counts against), each (key, Backoff)."""
        account = (redis_keys.login("account", _digest(email)), ACCOUNT)
        by_address = (redis_keys.login("address", _digest(address or "?")), ADDRESS)
        if device and self._device_account(device) == email:
            known = (redis_keys.login("device", _digest(device)), DEVICE)
            return [known], [known, account, by_address]
        return [account, by_address], [account, by_address]

    def wait_s(self, checked: list) -> int:
        """Seconds until every checked subject is unlocked (0: may try now)."""
        try:
            pipe = self._redis.pipeline(transaction=False)
            for key, _ in checked:
                pipe.hget(key, "locked_until")
            until = [float(value) for value in pipe.execute() if value is not None]
        except redis.RedisError:
            log.warning("login throttle skipped: Redis did not answer")
            return 0
        now = self.clock()
        return max((math.ceil(u - now) for u in until if u > now), default=0)

    def failed(self, counted: list) -> None:
        try:
            pipe = self._redis.pipeline(transaction=False)
            for key, _ in counted:
                pipe.hincrby(key, "failures", 1)
                pipe.expire(key, FORGET_S)
            failures = pipe.execute()[::2]
            now = self.clock()
            pipe = self._redis.pipeline(transaction=False)
            for (key, backoff), count in zip(counted, failures, strict=True):
                if backoff.lock_s(count):
                    pipe.hset(key, "locked_until", now + backoff.lock_s(count))
            pipe.execute()
        except redis.RedisError:
            log.warning("login failure not counted: Redis did not answer")

    def succeeded(self, email: str, device: str | None) -> str:
        """Forget the account's failures (not the address's: a guesser's own account must not
        clear them) and remember this browser; returns the device cookie to set."""
        device = device if device and self._device_account(device) == email else secrets.token_urlsafe(32)
        try:
            pipe = self._redis.pipeline(transaction=False)
            pipe.delete(redis_keys.login("account", _digest(email)), redis_keys.login("device", _digest(device)))
            pipe.set(redis_keys.login("known", _digest(device)), email, ex=DEVICE_DAYS * 86400)
            pipe.execute()
        except redis.RedisError:
            log.warning("login success not recorded: Redis did not answer")
        return device

    def _device_account(self, device: str) -> str | None:
        try:
            value = self._redis.get(redis_keys.login("known", _digest(device)))
        except redis.RedisError:
            return None
        return value.decode() if value is not None else None


class PasswordChecks:
    """At most `limit` argon2 checks at once in this process: each takes ~50 ms of CPU and 64 MB,
    and many at once starve the feed (bench/HISTORY.md#login-throttle). Others wait a moment, then 503."""

    def __init__(self, limit: int, wait_s: float = 3.0):
        self._slots, self._wait_s = threading.BoundedSemaphore(max(1, limit)), wait_s
        self._lock = threading.Lock()
        self.running = self.peak = 0

    def run(self, check: Callable[[], bool]) -> bool:
        if not self._slots.acquire(timeout=self._wait_s):
            raise ApiError(503, "too many logins at once; try again in a moment", headers={"Retry-After": "1"})
        try:
            with self._lock:
                self.running += 1
                self.peak = max(self.peak, self.running)
            CHECKS_IN_FLIGHT.inc()
            return check()
        finally:
            CHECKS_IN_FLIGHT.dec()
            with self._lock:
                self.running -= 1
            self._slots.release()
