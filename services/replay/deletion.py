"""Deleting a deleted user's replays (`replay.deletion_requested`, sent by the sessions service with
the ids of the user's sessions): their S3 objects, then their index rows, then a tombstone per
session so a chunk still on its way (a recording token lives 15 minutes) is refused, not stored.

Idempotent: a redelivered request finds the objects and rows gone and only rewrites the same
tombstones. S3 failing raises before the index changes, so the worker retries the whole request.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import orjson
from sqlalchemy import Engine, text

from footfall.messages import ReplaysDeletionRequested
from services.replay.storage import ChunkStorage

S3_THREADS = 8  # S3 calls are round trips: a user's 50 sessions are deleted 8 at a time

_INDEXED = text("""
    select session_id from sessions where env_id = :e and session_id = any(cast(:ids as text[]))
""")
_DELETE_INDEX = text("""
    with c as (delete from chunks where env_id = :e and session_id = any(cast(:ids as text[])) returning 1),
         s as (delete from sessions where env_id = :e and session_id = any(cast(:ids as text[])) returning 1)
    select (select count(*) from s) as sessions, (select count(*) from c) as chunks
""")
_TOMBSTONES = text("""
    insert into tombstones (env_id, session_id, deletion_id, expires_at)
    select :e, s, :d, :expires from unnest(cast(:ids as text[])) as s order by s
    on conflict (env_id, session_id) do update set expires_at = greatest(tombstones.expires_at, excluded.expires_at)
""")
_DONE = text("""
    insert into deletions (env_id, deletion_id, counts) values (:e, :d, cast(:counts as jsonb))
    on conflict (env_id, deletion_id) do update set
        counts = (select jsonb_object_agg(k, coalesce((deletions.counts->>k)::bigint, 0) + v::bigint)
                  from jsonb_each_text(excluded.counts) as x(k, v))
""")


def delete_replays(engine: Engine, storage: ChunkStorage, request: ReplaysDeletionRequested,
                   keep_days: int) -> dict[str, int]:
    """Delete the replays of the request's sessions; the counts."""
    env_id, ids = request.env_id, sorted(set(request.session_ids))
    with engine.connect() as conn:
        indexed = conn.scalars(_INDEXED, {"e": env_id, "ids": ids}).all()
    with ThreadPoolExecutor(S3_THREADS) as pool:
        objects = sum(pool.map(lambda session_id: storage.delete_session(env_id, session_id), indexed))
    with engine.begin() as conn:
        rows = conn.execute(_DELETE_INDEX, {"e": env_id, "ids": ids}).one()
        conn.execute(_TOMBSTONES, {"e": env_id, "d": request.deletion_id, "ids": ids,
                                   "expires": request.requested_at + timedelta(days=keep_days)})
        counts = {"replays": rows.sessions, "chunks": rows.chunks, "objects": objects}
        conn.execute(_DONE, {"e": env_id, "d": request.deletion_id, "counts": orjson.dumps(counts).decode()})
    return counts


def is_deleted(engine: Engine, env_id: str, session_id: str) -> bool:
    with engine.connect() as conn:
        return conn.execute(text("select 1 from tombstones where env_id = :e and session_id = :s"),
                            {"e": env_id, "s": session_id}).first() is not None


def deletion_status(engine: Engine, env_id: str, deletion_ids: list[str]) -> dict[str, dict]:
    with engine.connect() as conn:
        rows = conn.execute(text("""
            select deletion_id, counts, done_at from deletions
            where env_id = :e and deletion_id = any(cast(:ids as text[]))
        """), {"e": env_id, "ids": deletion_ids})
        return {r.deletion_id: {"counts": r.counts, "done_at": r.done_at} for r in rows}
