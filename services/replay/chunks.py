"""Pure rules about replay chunks (no I/O): reading an upload, summarising it, quotas, keys, retention.

A chunk is a gzip-compressed JSON array of rrweb events, each an object with an integer `type`
and a millisecond `timestamp`; type 2 is a full DOM snapshot, without which a replay cannot start.

Every cost is bounded: a chunk inflates to at most MAX_INFLATED_BYTES (the browser SDK sends one
every 5 s or 300 events, well under 1 MB inflated; a full snapshot of a large page a few MB); a
session holds at most MAX_SESSION_CHUNKS chunks, MAX_SESSION_BYTES bytes and MAX_SESSION_EVENTS
events, room for a 4-hour session (one chunk per 5 s is 2,880 chunks; rrweb's sampled mouse and
scroll events stay under 30 a second, 432,000 in 4 hours).
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Annotated

import msgspec
from isal import isal_zlib  # zlib's API on Intel's ISA-L: inflates a chunk in half zlib's time

MAX_CHUNK_BYTES = 20 * 1024 * 1024  # compressed, as uploaded
MAX_INFLATED_BYTES = 16 * 1024 * 1024  # guards against a gzip bomb, and bounds a worker's memory
GZIP_MAGIC = b"\x1f\x8b"
FULL_SNAPSHOT = 2  # rrweb EventType.FullSnapshot
MAX_SEQ = 99_999_999  # keys carry seq as 8 digits so they list in order
MAX_SESSION_CHUNKS = 10_000
MAX_SESSION_BYTES = 256 * 1024 * 1024  # compressed, as stored
MAX_SESSION_EVENTS = 2_000_000
INFLATE_STEP = 256 * 1024  # playback inflates a stored chunk this much at a time


class BadChunk(ValueError):
    """The upload is not a gzip JSON array of rrweb events (the message says what is wrong)."""


class ChunkTooLarge(BadChunk):
    """The upload, or what it inflates to, is over the limit."""


class QuotaExceeded(ValueError):
    """The session would pass one of its quotas (`quota` names which, `limit` its value)."""

    def __init__(self, quota: str, limit: int):
        super().__init__(f"the session reached its quota of {limit:,} {quota.removeprefix('session_')}: "
                         "a recording this long is cut here")
        self.quota, self.limit = quota, limit


@dataclass(frozen=True)
class SessionUsage:
    """What a session already holds, as indexed."""

    chunks: int = 0
    bytes: int = 0
    events: int = 0


def check_room(usage: SessionUsage, size: int) -> None:
    """QuotaExceeded unless one more chunk of `size` bytes fits the session (before inflating it)."""
    if usage.chunks >= MAX_SESSION_CHUNKS:
        raise QuotaExceeded("session_chunks", MAX_SESSION_CHUNKS)
    if usage.bytes + size > MAX_SESSION_BYTES:
        raise QuotaExceeded("session_bytes", MAX_SESSION_BYTES)


def check_events(usage: SessionUsage, events: int) -> None:
    """QuotaExceeded unless `events` more events fit the session."""
    if usage.events + events > MAX_SESSION_EVENTS:
        raise QuotaExceeded("session_events", MAX_SESSION_EVENTS)


@dataclass(frozen=True)
class ChunkSummary:
    """What the index keeps about one chunk."""

    start: datetime
    end: datetime
    event_count: int
    has_full_snapshot: bool


def inflate(body: bytes) -> bytes:
    """The JSON inside a gzip body, refusing bodies that inflate beyond MAX_INFLATED_BYTES."""
    return _inflate(body)[0]


def _inflate(body: bytes) -> tuple[bytes, int]:
    """The content of every gzip member of the body, joined (as gunzip does), and their number."""
    data, members = b"", 0
    while True:
        if not body.startswith(GZIP_MAGIC):  # ISA-L waits for more input rather than refuse a short one
            what = "body is not gzip" if not members else "data after the last gzip member is not gzip"
            raise BadChunk(f"{what}: it does not start with gzip's magic bytes")
        inflater = isal_zlib.decompressobj(wbits=31)  # 31: gzip header and trailer expected
        try:
            data += inflater.decompress(body, MAX_INFLATED_BYTES - len(data))
        except isal_zlib.error as exc:
            raise BadChunk(f"body is not gzip: {exc}") from exc
        if inflater.unconsumed_tail:
            raise ChunkTooLarge(f"chunk inflates beyond {MAX_INFLATED_BYTES // 2**20} MB")
        if not inflater.eof:
            raise BadChunk("gzip body is truncated")
        members += 1
        body = inflater.unused_data
        if not body:
            return data, members


class RrwebEvent(msgspec.Struct, gc=False):  # numbers only, so never in a cycle: not tracked
    """What the index reads of an rrweb event; the rest of each event (`data`…) is skipped unbuilt."""

    type: int  # a JSON integer: msgspec refuses booleans, floats and strings here
    timestamp: Annotated[int, msgspec.Meta(ge=0)] | Annotated[float, msgspec.Meta(ge=0)]  # ms since the epoch


# Decoding into RrwebEvent checks the JSON and the shape of every event in one pass in C, without
# building the event bodies as dicts to check in Python (bench/HISTORY.md#replay-uploads-and-manifests).
_EVENTS = msgspec.json.Decoder(list[RrwebEvent])


def read_events(body: bytes) -> list[RrwebEvent]:
    """The rrweb events of a gzip JSON array body."""
    return read_chunk(body)[0]


def read_chunk(body: bytes) -> tuple[list[RrwebEvent], bytes]:
    """The rrweb events of a gzip body, and the body to store: as sent, or, when it came in several
    gzip members, their content in one (what a browser plays back is then one plain gzip stream)."""
    data, members = _inflate(body)
    try:
        events = _EVENTS.decode(data)
    except msgspec.ValidationError as exc:
        raise BadChunk(_shape_error(data, exc)) from exc
    except msgspec.DecodeError as exc:
        raise BadChunk(f"body is not JSON: {exc}") from exc
    except RecursionError as exc:  # msgspec's guard: nesting deeper than the interpreter allows
        raise BadChunk("body is nested too deeply to be rrweb events") from exc
    if not events:
        raise BadChunk("body must be a non-empty JSON array of rrweb events")
    return events, (body if members == 1 else isal_zlib.compress(data, wbits=31))


def _shape_error(data: bytes, error: msgspec.ValidationError) -> str:
    """What is wrong with a body that is not an array of rrweb events (the error path only).

    The typed decode stops at the first mismatch, which may come before a syntax error further on.
    """
    try:
        document = msgspec.json.decode(data)
    except msgspec.DecodeError as exc:
        return f"body is not JSON: {exc}"
    except RecursionError:
        return "body is nested too deeply to be rrweb events"
    if not isinstance(document, list):
        return "body must be a non-empty JSON array of rrweb events"
    return (f"not an rrweb event (an object with an integer 'type' and a 'timestamp' in milliseconds "
            f"since the epoch): {error}")  # says where, e.g. `$[3].type`


def inflate_pieces(gzipped: Iterable[bytes]) -> Iterator[bytes]:
    """Inflate a gzip stream INFLATE_STEP bytes at a time: memory stays flat whatever the ratio."""
    inflater = isal_zlib.decompressobj(wbits=31)
    for piece in gzipped:
        data = inflater.decompress(piece, INFLATE_STEP)
        while data:
            yield data
            data = inflater.decompress(inflater.unconsumed_tail, INFLATE_STEP)
    tail = inflater.flush()
    if tail:
        yield tail


def array_items(gzipped: Iterable[bytes]) -> Iterator[bytes]:
    """The text between the outer brackets of a stored chunk's JSON array, inflated and yielded
    piece by piece: playback streams a recording without holding a chunk, inflated or parsed.

    The chunk was read by `read_events` when uploaded, so it is one JSON array; only its brackets
    (and the whitespace around them) are taken off. Yields nothing for an empty array.
    """
    opened, held = False, b""
    for data in inflate_pieces(gzipped):
        if not opened:
            data = data.lstrip()
            if not data:
                continue
            if data[:1] != b"[":
                raise BadChunk("a stored chunk is not a JSON array")
            data, opened = data[1:], True
        data = held + data
        end = len(data.rstrip())
        if end:  # hold back the last non-blank byte: it may be the closing bracket
            if end > 1:
                yield data[:end - 1]
            held = data[end - 1:]
        else:
            held = data
    if not opened or held.strip() != b"]":
        raise BadChunk("a stored chunk is not a JSON array")


def summarize(events: list[RrwebEvent]) -> ChunkSummary:
    """Time span, size and full-snapshot presence of a chunk read by read_events."""
    timestamps = [event.timestamp for event in events]
    try:
        start, end = (datetime.fromtimestamp(min(timestamps) / 1000, timezone.utc),
                      datetime.fromtimestamp(max(timestamps) / 1000, timezone.utc))
    except (OverflowError, OSError, ValueError) as exc:
        raise BadChunk(f"an event timestamp is out of range: {exc}") from exc
    return ChunkSummary(start=start, end=end, event_count=len(events),
                        has_full_snapshot=any(event.type == FULL_SNAPSHOT for event in events))


def parse_seq(value: str | None) -> int:
    """The chunk's sequence number from the query string (0 … MAX_SEQ)."""
    # isascii: '²'.isdigit() is true, and int('²') raises.
    if value is None or not (value.isascii() and value.isdigit()) or int(value) > MAX_SEQ:
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
