"""What the replay service does, over its index, its S3 storage and the bus (the API stays thin)."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import partial

import orjson

from footfall.bus import Publisher
from footfall.clock import utcnow
from footfall.config import Settings
from footfall.messages import ReplayRecording, ReplaysRecorded
from footfall.replay_token import RecordingGrant, valid_session_id
from services.replay import chunks, deletion
from services.replay.environments import KnownEnvironments
from services.replay.storage import ChunkExists, ChunkStorage
from services.replay.store import ReplayIndex


class SessionDeleted(Exception):
    """The session's user was deleted: its later chunks are refused (410), never stored."""


@dataclass
class Replays:
    """The composition root's product: everything a request or the retention job needs."""

    settings: Settings
    index: ReplayIndex
    storage: ChunkStorage
    publisher: Publisher
    environments: KnownEnvironments
    clock: Callable[[], datetime] = utcnow

    def store_chunk(self, grant: RecordingGrant, seq: int, body: bytes) -> bool:
        """Store and index one chunk, then tell the bus if the session is new to it; False if a repeat.

        Chunks are write-once per (session, seq), whoever uploads them: a seq the index holds is a
        repeat and writes nothing, and S3 refuses to replace an object (If-None-Match). The object
        is written before the index, so the index never names a missing object; an object without
        its index row (a retry after a failure between the two) is indexed from what S3 holds.
        The session's quotas are checked first (concurrent uploads of one session may pass them by
        at most one chunk each).
        """
        if deletion.is_deleted(self.index.engine, grant.env_id, grant.session_id):
            raise SessionDeleted(f"session {grant.session_id} was deleted with its user")
        usage, stored = self.index.usage(grant.env_id, grant.session_id, seq)
        if stored:
            # A repeat: it may be the retry of an upload whose announcement failed.
            repeated = self.index.unannounced(grant.env_id, grant.session_id)
            if repeated is not None:
                self._announce(repeated)
            return False
        chunks.check_room(usage, len(body))
        events, body = chunks.read_chunk(body)  # several gzip members come back as one
        summary = chunks.summarize(events)
        chunks.check_events(usage, summary.event_count)
        try:
            self.storage.put_chunk(grant.env_id, grant.session_id, seq, body)
        except ChunkExists:
            body = self.storage.get_chunk(grant.env_id, grant.session_id, seq)
            summary = chunks.summarize(chunks.read_events(body))
        session = self.index.record_chunk(grant.env_id, grant.session_id, grant.device_id, seq,
                                          len(body), summary, self.clock())
        if session is None:
            return self.store_chunk(grant, seq, body)  # indexed meanwhile: now a repeat
        if session["announced_full_snapshot"] != session["has_full_snapshot"]:
            self._announce(session)
        return True

    def _announce(self, session: dict) -> None:
        """Publish replay.recorded: the feed hears of a new replay, and of its full snapshot."""
        self.publisher.publish(ReplaysRecorded(env_id=session["env_id"], replays=[ReplayRecording(
            session_id=session["session_id"], device_id=session["device_id"], start=session["start_at"],
            end=session["end_at"], has_full_snapshot=session["has_full_snapshot"])]))
        self.index.mark_announced(session["env_id"], session["session_id"], session["has_full_snapshot"])

    def manifest(self, env_id: str, session_id: str) -> dict | None:
        """The session's chunks in order, each with a 60-second URL; None if none."""
        found = self._session(env_id, session_id)
        if found is None:
            return None
        body, session = found
        urls = self.storage.chunk_urls(env_id, session_id, [chunk["seq"] for chunk in session["chunks"]])
        body["chunks"] = [{**chunk, "url": url} for chunk, url in zip(session["chunks"], urls, strict=True)]
        return body

    def inline(self, env_id: str, session_id: str) -> Iterator[bytes] | None:
        """The manifest with every event inline, as JSON streamed chunk by chunk; None if none.

        Each stored chunk is inflated a piece at a time and its array's text copied out unparsed,
        so a worker's memory stays flat however long the recording (building the events list took
        ~11 bytes of memory per inflated byte).
        """
        found = self._session(env_id, session_id)
        if found is None:
            return None
        body, session = found
        return self._stream_events(body, [chunk["seq"] for chunk in session["chunks"]])

    def _stream_events(self, body: dict, seqs: list[int]) -> Iterator[bytes]:
        yield orjson.dumps(body, option=orjson.OPT_UTC_Z)[:-1] + b',"events":['
        comma_due = False
        for seq in seqs:
            wrote = False
            for piece in chunks.array_items(self.storage.chunk_pieces(body["env_id"], body["session_id"], seq)):
                if piece:
                    if comma_due and not wrote:
                        yield b","
                    wrote = True
                    yield piece
            comma_due = comma_due or wrote
        yield b"]}"

    def _session(self, env_id: str, session_id: str) -> tuple[dict, dict] | None:
        if not valid_session_id(session_id):
            return None  # it could not have been recorded
        cutoff = chunks.retention_cutoff(self.clock(), self.settings.replay_retention_days)
        session = self.index.session_with_chunks(env_id, session_id, not_before=cutoff)
        if session is None:
            return None
        return {
            "env_id": env_id, "session_id": session_id, "device_id": session["device_id"],
            "start": session["start_at"], "end": session["end_at"], "chunk_count": session["chunk_count"],
            "bytes": session["bytes"], "has_full_snapshot": session["has_full_snapshot"],
            "playable_until": session["updated_at"] + (self.clock() - cutoff),
        }, session

    def delete_expired(self, now: datetime | None = None, batch: int = 500) -> int:
        """Delete every session past retention (objects, then index rows); returns how many."""
        cutoff = chunks.retention_cutoff(now or self.clock(), self.settings.replay_retention_days)
        deleted = 0
        while expired := self.index.expired(cutoff, limit=batch):
            for env_id, session_id in expired:
                deleted += self.index.delete_session(env_id, session_id, cutoff, purge_objects=partial(
                    self.storage.delete_session, env_id, session_id))
        return deleted
