"""The replay index (schema `replay`): one row per recorded session and one per stored chunk.

Chunk rows make uploads idempotent per (session, seq) and let a manifest be answered from one
indexed query, without listing S3.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    and_,
    bindparam,
    delete,
    func,
    literal,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert

from services.replay.chunks import ChunkSummary, SessionUsage

metadata = MetaData(schema="replay")

sessions = Table(
    "sessions", metadata,
    Column("env_id", String(64), primary_key=True),
    Column("session_id", String(128), primary_key=True),
    Column("device_id", String(256), nullable=False),
    Column("start_at", DateTime(timezone=True), nullable=False),
    Column("end_at", DateTime(timezone=True), nullable=False),
    Column("chunk_count", Integer, nullable=False),
    Column("bytes", BigInteger, nullable=False),
    Column("event_count", BigInteger, nullable=False, server_default="0"),  # for the events quota
    Column("has_full_snapshot", Boolean, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),  # last chunk stored; retention key
    # has_full_snapshot as last announced on the bus (NULL: never announced).
    Column("announced_full_snapshot", Boolean),
)

chunks = Table(
    "chunks", metadata,
    Column("env_id", String(64), primary_key=True),
    Column("session_id", String(128), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("bytes", Integer, nullable=False),
    Column("event_count", Integer, nullable=False),
    Column("start_at", DateTime(timezone=True), nullable=False),
    Column("end_at", DateTime(timezone=True), nullable=False),
    Column("has_full_snapshot", Boolean, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)


def _record_chunk_statement():
    """Insert a chunk and fold it into its session, in one statement (so one round trip in autocommit).

    The chunk insert feeds the session upsert through a CTE: a repeated (session, seq) inserts no
    chunk, so the session is left as it was and nothing is returned. Built once (with bind
    parameters): building it per upload cost more CPU than running it.
    """
    new_chunk = insert(chunks).values(
        env_id=bindparam("p_env_id"), session_id=bindparam("p_session_id"), seq=bindparam("p_seq"),
        bytes=bindparam("p_bytes"), event_count=bindparam("p_event_count"),
        start_at=bindparam("p_start_at"), end_at=bindparam("p_end_at"),
        has_full_snapshot=bindparam("p_has_full_snapshot"), created_at=bindparam("p_now"),
    ).on_conflict_do_nothing().returning(
        chunks.c.env_id, chunks.c.session_id, chunks.c.start_at, chunks.c.end_at, chunks.c.bytes,
        chunks.c.event_count, chunks.c.has_full_snapshot, chunks.c.created_at).cte("new_chunk")
    new = insert(sessions).from_select(
        ["env_id", "session_id", "device_id", "start_at", "end_at", "chunk_count", "bytes",
         "event_count", "has_full_snapshot", "created_at", "updated_at"],
        select(new_chunk.c.env_id, new_chunk.c.session_id, bindparam("p_device_id", type_=String),
               new_chunk.c.start_at, new_chunk.c.end_at, literal(1, Integer), new_chunk.c.bytes,
               new_chunk.c.event_count, new_chunk.c.has_full_snapshot, new_chunk.c.created_at,
               new_chunk.c.created_at))
    return new.on_conflict_do_update(index_elements=["env_id", "session_id"], set_={
        "start_at": func.least(sessions.c.start_at, new.excluded.start_at),
        "end_at": func.greatest(sessions.c.end_at, new.excluded.end_at),
        "chunk_count": sessions.c.chunk_count + 1,
        "bytes": sessions.c.bytes + new.excluded.bytes,
        "event_count": sessions.c.event_count + new.excluded.event_count,
        "has_full_snapshot": sessions.c.has_full_snapshot | new.excluded.has_full_snapshot,
        "updated_at": new.excluded.updated_at,
    }).returning(sessions)


RECORD_CHUNK = _record_chunk_statement()


def _usage_statement():
    """A session's totals and whether it holds one seq already: one indexed read before an upload."""
    stored = select(chunks.c.seq).where(chunks.c.env_id == bindparam("p_env_id"),
                                        chunks.c.session_id == bindparam("p_session_id"),
                                        chunks.c.seq == bindparam("p_seq")).exists()
    return select(sessions.c.chunk_count, sessions.c.bytes, sessions.c.event_count,
                  stored.label("stored")).where(sessions.c.env_id == bindparam("p_env_id"),
                                                sessions.c.session_id == bindparam("p_session_id"))


USAGE = _usage_statement()


class ReplayIndex:
    """Queries over the replay index."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self._autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")  # same pool

    def record_chunk(self, env_id: str, session_id: str, device_id: str, seq: int, size: int,
                     summary: ChunkSummary, now: datetime) -> dict | None:
        """Index a stored chunk and fold it into its session: the session row as it now stands, or
        None when (session, seq) was already known (nothing changes)."""
        with self._autocommit.connect() as conn:
            row = conn.execute(RECORD_CHUNK, {
                "p_env_id": env_id, "p_session_id": session_id, "p_device_id": device_id, "p_seq": seq,
                "p_bytes": size, "p_event_count": summary.event_count, "p_start_at": summary.start,
                "p_end_at": summary.end, "p_has_full_snapshot": summary.has_full_snapshot, "p_now": now,
            }).mappings().first()
        return dict(row) if row else None

    def usage(self, env_id: str, session_id: str, seq: int) -> tuple[SessionUsage, bool]:
        """What the session holds now, and whether `seq` is one of its chunks already."""
        with self._autocommit.connect() as conn:
            row = conn.execute(USAGE, {"p_env_id": env_id, "p_session_id": session_id,
                                       "p_seq": seq}).first()
        if row is None:
            return SessionUsage(), False
        return SessionUsage(chunks=row.chunk_count, bytes=row.bytes, events=row.event_count), row.stored

    def unannounced(self, env_id: str, session_id: str) -> dict | None:
        """The session when the bus has not yet heard of it (or of its full snapshot), else None."""
        with self.engine.connect() as conn:
            row = conn.execute(select(sessions).where(
                _session(env_id, session_id),
                sessions.c.announced_full_snapshot.is_distinct_from(sessions.c.has_full_snapshot),
            )).mappings().first()
        return dict(row) if row else None

    def mark_announced(self, env_id: str, session_id: str, has_full_snapshot: bool) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(sessions).where(_session(env_id, session_id))
                         .values(announced_full_snapshot=has_full_snapshot))

    def session_with_chunks(self, env_id: str, session_id: str, not_before: datetime) -> dict | None:
        """A session written since `not_before` (retention) with its chunks in seq order, or None.

        One query (the session's columns repeat on each chunk row), so a manifest is one round trip.
        """
        chunk_columns = (chunks.c.seq, chunks.c.bytes, chunks.c.event_count, chunks.c.start_at, chunks.c.end_at)
        query = (select(sessions, *(column.label(f"chunk_{column.name}") for column in chunk_columns))
                 .select_from(sessions.outerjoin(chunks, and_(chunks.c.env_id == sessions.c.env_id,
                                                              chunks.c.session_id == sessions.c.session_id)))
                 .where(_session(env_id, session_id), sessions.c.updated_at >= not_before)
                 .order_by(chunks.c.seq))
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        if not rows:
            return None
        found = [{"seq": row["chunk_seq"], "bytes": row["chunk_bytes"], "event_count": row["chunk_event_count"],
                  "start": row["chunk_start_at"], "end": row["chunk_end_at"]}
                 for row in rows if row["chunk_seq"] is not None]
        return {**{column.name: rows[0][column.name] for column in sessions.c}, "chunks": found}

    def expired(self, cutoff: datetime, limit: int = 500) -> list[tuple[str, str]]:
        """(env_id, session_id) of sessions last written before `cutoff`."""
        with self.engine.connect() as conn:
            return [tuple(row) for row in conn.execute(
                select(sessions.c.env_id, sessions.c.session_id)
                .where(sessions.c.updated_at < cutoff)
                .order_by(sessions.c.updated_at).limit(limit))]

    def delete_session(self, env_id: str, session_id: str, cutoff: datetime,
                       purge_objects: Callable[[], object]) -> bool:
        """Delete an expired session: its objects (`purge_objects`) and index rows, all or nothing.

        The objects go while the session row is deleted but not committed: if S3 fails the rows
        come back and the next run retries. False when the session is no longer expired.
        """
        with self.engine.begin() as conn:
            gone = conn.scalar(delete(sessions).where(
                _session(env_id, session_id), sessions.c.updated_at < cutoff).returning(sessions.c.env_id))
            if gone is None:
                return False
            purge_objects()
            conn.execute(delete(chunks).where(chunks.c.env_id == env_id, chunks.c.session_id == session_id))
            return True


def _session(env_id: str, session_id: str):
    return and_(sessions.c.env_id == env_id, sessions.c.session_id == session_id)
