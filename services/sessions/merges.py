"""Applying `user.merged`: a batch of merges costs a few statements, whatever the users' histories.

Events and sessions are never rewritten: their owner is read through the merge map (tables.py).
A batch loads the part of the map it can touch (the chains forward of every id it names, and the
ids behind each merged-away one), locks those ids (locks.py: an events batch storing events of one
of them waits, or is waited for), applies the rules of merge_map.py in memory, and writes back
the map rows that changed. Then the feed rows of every user that lost or gained members are
recomputed from their members' `anon_users` rows (one row per member, not per event), and the
rows of users merged away are dropped.

No lock covers an environment: batches touching different users run side by side, and events
of users a batch does not touch keep flowing.
"""
from __future__ import annotations

import orjson
from sqlalchemy import Connection, text

from footfall.messages import UserMerge
from services.sessions.locks import lock_ids
from services.sessions.merge_map import Edge, MergeMap

# Every id forward of the batch's ids (to their roots) and behind its merged-away ones, with its
# edge when it has one.
_LOAD = text("""
    with recursive forward(user_id) as (
        select unnest(cast(:seeds as text[])) collate "C"
        union
        select m.direct_into_user_id from forward f
        join merges m on m.env_id = :e and m.from_user_id = f.user_id
    ), behind(user_id) as (
        select unnest(cast(:sources as text[])) collate "C"
        union
        select m.from_user_id from behind b
        join merges m on m.env_id = :e and m.direct_into_user_id = b.user_id
    ), ids as (select user_id from forward union select user_id from behind)
    select ids.user_id, m.direct_into_user_id, m.at, m.into_user_id
    from ids left join merges m on m.env_id = :e and m.from_user_id = ids.user_id
""")

_WRITE_MAP = text("""
    insert into merges (env_id, from_user_id, into_user_id, at, direct_into_user_id)
    select :e, v.from_user_id, v.into_user_id, v.at, v.direct_into_user_id
    from jsonb_to_recordset(cast(:rows as jsonb))
        as v(from_user_id text, into_user_id text, at timestamptz, direct_into_user_id text)
    order by v.from_user_id
    on conflict (env_id, from_user_id) do update set into_user_id = excluded.into_user_id,
        at = excluded.at, direct_into_user_id = excluded.direct_into_user_id
""")

# Feed rows of the survivors, created when missing and locked in one order (an events batch
# moving the same row waits, or is waited for); recomputed in a later statement, which sees what
# committed while this one waited.
_LOCK_USERS = text("""
    insert into users (env_id, user_id)
    select :e, r from unnest(cast(:roots as text[])) as r order by r
    on conflict (env_id, user_id) do update set version = users.version
""")
_RECOMPUTE_USERS = text("""
    with r as (select unnest(cast(:roots as text[])) collate "C" as root),
    members as (
        select root, root as anon_user_id from r
        union all
        select r.root, m.from_user_id from r join merges m on m.env_id = :e and m.into_user_id = r.root
    ), agg as (
        select members.root, min(a.first_seen) as first_seen, max(a.last_seen) as last_seen,
               coalesce(sum(a.session_count), 0) as session_count
        from members left join anon_users a on a.env_id = :e and a.anon_user_id = members.anon_user_id
        group by members.root
    )
    update users u set first_seen = agg.first_seen, last_seen = agg.last_seen,
                       session_count = agg.session_count
    from agg where u.env_id = :e and u.user_id = agg.root
""")
# A survivor with no activity and no snapshot has no feed row (the lock created it).
_DROP_EMPTY = text("""
    delete from users where env_id = :e and user_id = any(cast(:roots as text[]))
      and version < 0 and last_seen is null
""")
_DROP_MERGED = text("delete from users where env_id = :e and user_id = any(cast(:gone as text[]))")

# Rounds of load-then-lock before giving up for a retry: a round is needed again only when
# another batch grew the part of the map this one touches between its load and its locks.
_ROUNDS = 5


class MapMoved(ConnectionError):
    """The map kept changing under this batch: transient, so the worker retries it."""


def _load_locked(conn: Connection, env_id: str, items: list[UserMerge]) -> dict[str, tuple]:
    """The touched part of the map, read once every id in it is locked."""
    sources = sorted({m.from_user_id for m in items})
    seeds = sorted(set(sources) | {m.into_user_id for m in items})
    locked: set[str] = set()
    for _ in range(_ROUNDS):
        rows = conn.execute(_LOAD, {"e": env_id, "seeds": seeds, "sources": sources}).all()
        loaded = {r.user_id: r for r in rows}
        if loaded.keys() <= locked:
            return loaded
        lock_ids(conn, env_id, loaded.keys() - locked)
        locked |= loaded.keys()
    raise MapMoved(f"merge map of {env_id} kept changing under a batch of {len(items)} merges")


def apply_merges(conn: Connection, env_id: str, items: list[UserMerge]) -> None:
    """Apply merges (sorted by (at, from, into)); idempotent, and any arrival order gives one map."""
    loaded = _load_locked(conn, env_id, items)
    graph = MergeMap({u: Edge(r.at, r.direct_into_user_id) for u, r in loaded.items() if r.direct_into_user_id})
    before = {u: graph.root(u) for u in loaded}
    retargeted = {m.from_user_id for m in items if graph.apply(m.from_user_id, m.into_user_id, m.at)}
    after = {u: graph.root(u) for u in loaded}
    moved = {u for u in loaded if before[u] != after[u]}
    rows = [{"from_user_id": u, "into_user_id": after[u], "at": graph.edges[u].at.isoformat(),
             "direct_into_user_id": graph.edges[u].into} for u in sorted(retargeted | moved)]
    if not rows:
        return
    conn.execute(_WRITE_MAP, {"e": env_id, "rows": orjson.dumps(rows).decode()})
    gone = sorted(u for u in moved if before[u] == u)
    survivors = sorted(({before[u] for u in moved} | {after[u] for u in moved}) - set(gone))
    if survivors:
        conn.execute(_LOCK_USERS, {"e": env_id, "roots": survivors})
        conn.execute(_RECOMPUTE_USERS, {"e": env_id, "roots": survivors})
        conn.execute(_DROP_EMPTY, {"e": env_id, "roots": survivors})
    if gone:
        conn.execute(_DROP_MERGED, {"e": env_id, "gone": gone})
