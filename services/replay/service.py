"""What the replay service does, over its index, its S3 storage and the bus (the API stays thin)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import partial

import orjson

from footfall.bus import Publisher
from footfall.config import Settings
from footfall.messages import ReplayRecording, ReplaysRecorded
from footfall.replay_token import RecordingGrant
from services.replay import chunks, deletion
from services.replay.storage import ChunkStorage
from services.replay.store import ReplayIndex


class SessionDeleted(Exception):
    """The session's user was deleted: its later chunks are refused (410), never stored."""


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class Replays:
    """The composition root's product: everything a request or the retention job needs."""

    settings: Settings
    index: ReplayIndex
    storage: ChunkStorage
    publisher: Publisher
    clock: Callable[[], datetime] = utcnow

    def store_chunk(self, grant: RecordingGrant, seq: int, body: bytes) -> bool:
        """Store and index one chunk, then tell the bus if the session is new to it; False if a repeat.

        The object is written before the index, so the index never names a missing object; a
        repeated (session, seq) overwrites the object with the same bytes and changes no count.
        """
        summary = chunks.summarize(chunks.read_events(body))
        if deletion.is_deleted(self.index.engine, grant.env_id, grant.session_id):
            raise SessionDeleted(f"session {grant.session_id} was deleted with its user")
        self.storage.put_chunk(grant.env_id, grant.session_id, seq, body)
        session = self.index.record_chunk(grant.env_id, grant.session_id, grant.device_id, seq,
                                          len(body), summary, self.clock())
        if session is None:
            # A repeat: it may be the retry of an upload whose announcement failed.
            repeated = self.index.unannounced(grant.env_id, grant.session_id)
            if repeated is not None:
                self._announce(repeated)
            return False
        if session["announced_full_snapshot"] != session["has_full_snapshot"]:
            self._announce(session)
        return True

    def _announce(self, session: dict) -> None:
        """Publish replay.recorded: the feed hears of a new replay, and of its full snapshot."""
        self.publisher.publish(ReplaysRecorded(env_id=session["env_id"], replays=[ReplayRecording(
            session_id=session["session_id"], device_id=session["device_id"], start=session["start_at"],
            end=session["end_at"], has_full_snapshot=session["has_full_snapshot"])]))
        self.index.mark_announced(session["env_id"], session["session_id"], session["has_full_snapshot"])

    def manifest(self, env_id: str, session_id: str, inline: bool = False) -> dict | None:
        """The session's chunks in order, each with a 60-second URL (or all events inline); None if none."""
        cutoff = chunks.retention_cutoff(self.clock(), self.settings.replay_retention_days)
        session = self.index.session_with_chunks(env_id, session_id, not_before=cutoff)
        if session is None:
            return None
        body = {
            "env_id": env_id, "session_id": session_id, "device_id": session["device_id"],
            "start": session["start_at"], "end": session["end_at"], "chunk_count": session["chunk_count"],
            "bytes": session["bytes"], "has_full_snapshot": session["has_full_snapshot"],
            "playable_until": session["updated_at"] + (self.clock() - cutoff),
        }
        if inline:
            body["events"] = [event for chunk in session["chunks"] for event in orjson.loads(
                chunks.inflate(self.storage.get_chunk(env_id, session_id, chunk["seq"])))]
        else:
            urls = self.storage.chunk_urls(env_id, session_id, [chunk["seq"] for chunk in session["chunks"]])
            body["chunks"] = [{**chunk, "url": url} for chunk, url in zip(session["chunks"], urls, strict=True)]
        return body

    def delete_expired(self, now: datetime | None = None, batch: int = 500) -> int:
        """Delete every session past retention (objects, then index rows); returns how many."""
        cutoff = chunks.retention_cutoff(now or self.clock(), self.settings.replay_retention_days)
        deleted = 0
        while expired := self.index.expired(cutoff, limit=batch):
            for env_id, session_id in expired:
                deleted += self.index.delete_session(env_id, session_id, cutoff, purge_objects=partial(
                    self.storage.delete_session, env_id, session_id))
        return deleted
