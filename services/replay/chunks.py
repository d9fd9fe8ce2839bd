"""Pure rules about replay chunks (no I/O): reading an upload, summarising it, keys and retention.

A chunk is a gzip-compressed JSON array of rrweb events, each an object with an integer `type`
and a millisecond `timestamp`; type 2 is a full DOM snapshot, without which a replay cannot start.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import orjson

MAX_CHUNK_BYTES = 20 * 1024 * 1024  # compressed, as uploaded
MAX_INFLATED_BYTES = 256 * 1024 * 1024  # guards against a gzip bomb
FULL_SNAPSHOT = 2  # rrweb EventType.FullSnapshot
MAX_SEQ = 99_999_999  # keys carry seq as 8 digits so they list in order


class BadChunk(ValueError):
    """The upload is not a gzip JSON array of rrweb events (the message says what is wrong)."""


class ChunkTooLarge(BadChunk):
    """The upload, or what it inflates to, is over the limit."""


@dataclass(frozen=True)
class ChunkSummary:
    """What the index keeps about one chunk."""

    start: datetime
    end: datetime
    event_count: int
    has_full_snapshot: bool


def inflate(body: bytes) -> bytes:
    """The JSON inside a gzip body, refusing bodies that inflate beyond MAX_INFLATED_BYTES."""
    inflater = zlib.decompressobj(wbits=31)  # 31: gzip header and trailer expected
    try:
        data = inflater.decompress(body, MAX_INFLATED_BYTES)
    except zlib.error as exc:
        raise BadChunk(f"body is not gzip: {exc}") from exc
    if inflater.unconsumed_tail:
        raise ChunkTooLarge(f"chunk inflates beyond {MAX_INFLATED_BYTES // 2**20} MB")
    if not inflater.eof:
        raise BadChunk("gzip body is truncated")
    return data


def read_events(body: bytes) -> list[dict]:
    """The rrweb events of a gzip JSON array body."""
    try:
        events = orjson.loads(inflate(body))
    except orjson.JSONDecodeError as exc:
        raise BadChunk(f"body is not JSON: {exc}") from exc
    if not isinstance(events, list) or not events:
        raise BadChunk("body must be a non-empty JSON array of rrweb events")
    return events


def summarize(events: list) -> ChunkSummary:
    """Time span, size and full-snapshot presence of a chunk; every event must be rrweb-shaped.

    The checks run over whole columns (comprehensions and sets, ~4x faster than a loop of
    isinstance per event on a 200 KB chunk); only a bad chunk is walked event by event, so the
    error names the first bad event.
    """
    try:
        kinds = [event["type"] for event in events]
        timestamps = [event["timestamp"] for event in events]
    except (TypeError, KeyError):  # an event that is not an object, or lacks a field
        kinds = timestamps = []
    # type() rather than isinstance: bool is an int subclass, and neither field may be a bool.
    if (len(kinds) != len(events) or {type(kind) for kind in kinds} != {int}
            or not {type(timestamp) for timestamp in timestamps} <= {int, float} or min(timestamps) < 0):
        for index, event in enumerate(events):
            check_event(index, event)
    try:
        start, end = (datetime.fromtimestamp(min(timestamps) / 1000, timezone.utc),
                      datetime.fromtimestamp(max(timestamps) / 1000, timezone.utc))
    except (OverflowError, OSError, ValueError) as exc:
        raise BadChunk(f"an event timestamp is out of range: {exc}") from exc
    return ChunkSummary(start=start, end=end, event_count=len(events), has_full_snapshot=FULL_SNAPSHOT in kinds)


def check_event(index: int, event) -> None:
    """Raise BadChunk naming the event unless it is an object with an integer type and a timestamp."""
    if not isinstance(event, dict):
        raise BadChunk(f"event {index} is not an object")
    kind, timestamp = event.get("type"), event.get("timestamp")
    if not isinstance(kind, int) or isinstance(kind, bool):
        raise BadChunk(f"event {index}: 'type' must be an integer")
    if not isinstance(timestamp, (int, float)) or isinstance(timestamp, bool) or timestamp < 0:
        raise BadChunk(f"event {index}: 'timestamp' must be milliseconds since the epoch")


def parse_seq(value: str | None) -> int:
    """The chunk's sequence number from the query string (0 … MAX_SEQ)."""
    if value is None or not value.isdigit() or int(value) > MAX_SEQ:
        raise BadChunk(f"'seq' must be an integer from 0 to {MAX_SEQ}")
    return int(value)


def session_prefix(env_id: str, session_id: str) -> str:
    """Every object of one session shares this prefix, so a session lists and deletes together."""
    return f"replays/{env_id}/{session_id}/"


def chunk_key(env_id: str, session_id: str, seq: int) -> str:
    return f"{session_prefix(env_id, session_id)}{seq:08d}.json.gz"


def retention_cutoff(now: datetime, retention_days: int) -> datetime:
    """Sessions last written before this are expired: unplayable, and deleted by the retention job."""
    return now - timedelta(days=retention_days)
