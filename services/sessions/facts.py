"""Facts other services state about users and sessions: identity's snapshots and replays."""
from __future__ import annotations

import orjson
from sqlalchemy import Connection, text

from footfall.messages import ReplayRecording, UserSnapshot


def apply_snapshots(conn: Connection, env_id: str, snapshots: list[UserSnapshot]) -> None:
    """Keep each user's highest-version snapshot; snapshots of merged-away users are dropped."""
    latest: dict[str, UserSnapshot] = {}
    for snap in snapshots:
        if snap.user_id not in latest or snap.version > latest[snap.user_id].version:
            latest[snap.user_id] = snap
    merged = set(conn.execute(
        text("select from_user_id from merges where env_id = :e and from_user_id = any(:ids)"),
        {"e": env_id, "ids": list(latest)}).scalars())
    rows = [{"user_id": s.user_id, "identity": s.identity, "properties": s.properties, "version": s.version}
            for s in sorted(latest.values(), key=lambda s: s.user_id) if s.user_id not in merged]
    if not rows:
        return
    conn.execute(text("""
        insert into users (env_id, user_id, identity, properties, version)
        select :e, v.user_id, v.identity, v.properties, v.version
        from jsonb_to_recordset(cast(:rows as jsonb))
            as v(user_id text, identity text, properties jsonb, version bigint)
        order by v.user_id
        on conflict (env_id, user_id) do update set identity = excluded.identity,
            properties = excluded.properties, version = excluded.version
        where users.version < excluded.version
    """), {"e": env_id, "rows": orjson.dumps(rows).decode()})


def apply_replays(conn: Connection, env_id: str, replays: list[ReplayRecording]) -> None:
    """Mark sessions as replayable; remembered for sessions not stored yet."""
    ids = sorted({r.session_id for r in replays})
    conn.execute(text("insert into replays select :e, unnest(cast(:ids as text[])) on conflict do nothing"),
                 {"e": env_id, "ids": ids})
    conn.execute(text("update sessions set has_replay = true where env_id = :e and session_id = any(:ids)"),
                 {"e": env_id, "ids": ids})
