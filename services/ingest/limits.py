"""Request limits: content type, body size after bounded gzip inflation, per-environment rate limit."""
from __future__ import annotations

import logging
import math
import time
import zlib
from datetime import UTC, datetime
from typing import Any

import orjson
import redis
from flask import Request
from werkzeug.exceptions import RequestEntityTooLarge

from footfall import redis_keys
from footfall.web import ApiError

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 500 * 1024  # after inflation
REFUSED_KEPT_S = 8 * 24 * 3600
# text/plain: browser SDKs send JSON as text to skip the CORS preflight; no type at all is lenient.
JSON_TYPES = frozenset({"application/json", "text/plain", ""})


def read_json(request: Request) -> tuple[Any, bool]:
    """The request body parsed as JSON, and whether it may hold a NUL (a `\\u0000` escape, the one way
    JSON writes it); or an ApiError: 415 (type/encoding), 413 (size), 400 (syntax)."""
    mimetype = request.mimetype
    if mimetype not in JSON_TYPES and not mimetype.endswith("+json"):
        raise ApiError(415, f"content type {mimetype!r} is not JSON; send application/json or text/plain",
                       field="Content-Type")
    encoding = request.headers.get("Content-Encoding", "").strip().lower()
    if encoding not in ("", "identity", "gzip"):
        raise ApiError(415, f"content encoding {encoding!r} is not supported; send gzip or none",
                       field="Content-Encoding")
    try:
        # The app's MAX_CONTENT_LENGTH is one byte more than the limit: werkzeug refuses a larger
        # Content-Length outright but silently cuts a chunked body there, so a cut body is too long.
        raw = request.get_data(cache=False)
    except RequestEntityTooLarge as exc:
        raise too_large() from exc
    if len(raw) > MAX_BODY_BYTES:
        raise too_large()
    if encoding == "gzip":
        raw = inflate(raw, MAX_BODY_BYTES)
    try:
        return orjson.loads(raw), b"\\u0000" in raw
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, f"malformed JSON: {exc}", field="body") from exc


def inflate(data: bytes, limit: int) -> bytes:
    """Gunzip at most `limit` bytes: stops as soon as the output passes it, so a zip bomb costs nothing.

    A gzip file may hold several members, one after the other (RFC 1952; `cat a.gz b.gz`): their
    contents are joined, as gunzip does, and count against the same limit.
    """
    out = b""
    while True:
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            out += inflater.decompress(data, limit + 1 - len(out))
        except zlib.error as exc:
            raise ApiError(400, f"body is not valid gzip: {exc}", field="Content-Encoding") from exc
        if len(out) > limit:
            raise too_large()
        if not inflater.eof:
            raise ApiError(400, "body is not valid gzip: truncated stream", field="Content-Encoding")
        data = inflater.unused_data
        if not data:
            return out


def too_large() -> ApiError:
    return ApiError(413, f"body is larger than {MAX_BODY_BYTES // 1024} KB (after gzip inflation)",
                    field="body")


class RateLimiter:
    """A fixed window per environment in Redis: INCRBY + EXPIRE in one round trip.

    It counts events, not requests, so a 1,000-event batch weighs what it costs. When Redis does
    not answer, requests pass: losing events would be worse than a moment without a limit.
    """

    def __init__(self, client: redis.Redis, limit: int, window_s: int):
        self._redis, self.limit, self.window_s = client, limit, max(1, window_s)

    def take(self, env_id: str, events: int) -> None:
        """Count `events` against env_id's window; ApiError 429 with Retry-After past the limit."""
        if self.limit <= 0:
            return
        now = time.time()
        window = int(now // self.window_s)
        key = redis_keys.ingest_rate(env_id, window)
        try:
            pipe = self._redis.pipeline(transaction=False)
            pipe.incrby(key, events)
            pipe.expire(key, self.window_s + 1)
            count, _ = pipe.execute()
        except redis.RedisError:
            log.warning("rate limit skipped: Redis did not answer", exc_info=True)
            return
        if count > self.limit:
            self._count_refused(env_id, events)  # the whole request is refused
            retry_after = max(1, math.ceil((window + 1) * self.window_s - now))
            raise ApiError(429, f"rate limit of {self.limit} events per {self.window_s} s exceeded",
                           headers={"Retry-After": str(retry_after)}, field="writeKey")

    def _count_refused(self, env_id: str, events: int) -> None:
        """Events refused, per day, for the gateway's ingestion page (only refusals pay for it)."""
        key = redis_keys.rate_limited_hash(env_id)
        try:
            pipe = self._redis.pipeline(transaction=False)
            pipe.hincrby(key, datetime.now(UTC).date().isoformat(), events)
            pipe.expire(key, REFUSED_KEPT_S)
            pipe.execute()
        except redis.RedisError:
            log.warning("refused events not counted: Redis did not answer", exc_info=True)
