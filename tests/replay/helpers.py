"""Building rrweb chunks and recording tokens for replay tests."""
from __future__ import annotations

import gzip
from datetime import datetime, timedelta, timezone

import orjson

from footfall.replay_token import RecordingGrant, sign_recording_token

BASE_MS = 1_740_000_000_000  # a fixed moment, in rrweb's milliseconds


def rrweb_events(seq: int, count: int = 3, full_snapshot: bool = False) -> list[dict]:
    """`count` incremental events of chunk `seq` (one second apart), led by a full snapshot if asked."""
    events = [{"type": 3, "timestamp": BASE_MS + seq * 10_000 + i * 1000,
               "data": {"source": 1, "positions": [{"x": i, "y": seq}], "chunk": seq, "i": i}}
              for i in range(count)]
    if full_snapshot:
        events[0] = {"type": 2, "timestamp": events[0]["timestamp"],
                     "data": {"node": {"type": 0, "childNodes": []}, "chunk": seq, "i": 0}}
    return events


def chunk_body(events: list) -> bytes:
    return gzip.compress(orjson.dumps(events))


def token(secret: str, env_id: str = "env-a", session_id: str = "sess-1", device_id: str = "dev-1",
          expires_in: timedelta = timedelta(minutes=15), now: datetime | None = None) -> str:
    expires_at = (now or datetime.now(timezone.utc)) + expires_in
    return sign_recording_token(secret, RecordingGrant(env_id, session_id, device_id, expires_at))


def bearer(value: str) -> dict:
    return {"Authorization": f"Bearer {value}"}
