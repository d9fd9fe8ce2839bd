"""Deleting users for good (`user.deletion_requested`), and keeping them deleted.

A deletion names users; each one's data is that of its members (the user and every id merged
into it, read through the merge map under the members' locks, as merges take them). Every row of
the members goes: events, sessions, their `anon_users` roll-ups, feed rows, merge-map rows, and
the replay marks of their sessions. Then tombstones (`tombstones`) keep them deleted:

- `u:<id>` per member and `i:<identity key>` per identity: the events path drops events of those
  ids (or naming that identity) dated up to the deletion's `requested_at`, so an event still in a
  queue, redelivered, or sent again from an SDK's offline queue never brings the user back, while
  a person who comes back later (new events, after the cutoff) is counted afresh;
- facts about them dated before it are dropped too: snapshots, replays (`s:<session id>`) and
  merges; a merge into a deleted user decided before its deletion (identity had merged an id the
  map here did not know of yet) deletes that id as a member would have been.

One audit row per deletion (`deletions`: counts, no personal data) doubles as the outbox of the
message telling the replay service which sessions went (`announce`).
"""
from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import NamedTuple

import orjson
from sqlalchemy import Connection, Engine, text

from footfall.ids import identity_key
from footfall.messages import (
    DeletionRequested,
    ReplayRecording,
    ReplaysDeletionRequested,
    UserMerge,
    UserSnapshot,
)
from services.sessions.locks import lock_ids

# Rounds of read-then-lock of a user's members before a retry (see merges._load_locked).
_ROUNDS = 5


class MembersMoved(ConnectionError):
    """Merges kept adding members under a deletion: transient, so the worker retries it."""


class Tombstone(NamedTuple):
    cutoff: datetime
    deletion_id: str


_OWNERS = text("""
    select coalesce(m.into_user_id, r.id) from unnest(cast(:ids as text[])) as r(id)
    left join merges m on m.env_id = :e and m.from_user_id = r.id collate "C"
""")
_MEMBERS = text("""
    select from_user_id from merges where env_id = :e and into_user_id = any(cast(:roots as text[]))
""")


def members_locked(conn: Connection, env_id: str, user_ids: list[str]) -> list[str]:
    """The members of these users' owners, read once every one of them is locked."""
    lock_ids(conn, env_id, set(user_ids))  # a merge of a named id waits, or is waited for
    roots = sorted(set(conn.scalars(_OWNERS, {"e": env_id, "ids": user_ids})))
    locked = set(user_ids)
    for _ in range(_ROUNDS):
        members = set(roots) | set(conn.scalars(_MEMBERS, {"e": env_id, "roots": roots}))
        if members <= locked:
            return sorted(members)
        lock_ids(conn, env_id, members - locked)
        locked |= members
    raise MembersMoved(f"members of {len(roots)} users of {env_id} kept changing")


# The identities the events were sent under are tombstoned too (they may name no feed row yet).
_DELETE_EVENTS = text("""
    with gone as (delete from events where env_id = :e and anon_user_id = any(cast(:ids as text[]))
                  returning identity)
    select count(*) as n, coalesce(array_agg(distinct identity) filter (where identity is not null), '{}')
        as identities from gone
""")
_DELETE_SESSIONS = text("""
    delete from sessions where env_id = :e and anon_user_id = any(cast(:ids as text[]))
    returning session_id, client
""")
_DELETE_REPLAYS = text("delete from replays where env_id = :e and session_id = any(cast(:ids as text[]))")
_DELETE_ANON = text("delete from anon_users where env_id = :e and anon_user_id = any(cast(:ids as text[]))")
_DELETE_USERS = text("""
    delete from users where env_id = :e and user_id = any(cast(:ids as text[])) returning identity
""")
_DELETE_MERGES = text("""
    with a as (delete from merges where env_id = :e and from_user_id = any(cast(:ids as text[])) returning 1),
         b as (delete from merges where env_id = :e and into_user_id = any(cast(:ids as text[])) returning 1)
    select (select count(*) from a) + (select count(*) from b)
""")
_TOMBSTONES = text("""
    insert into tombstones as t (env_id, key, cutoff, deletion_id, expires_at)
    select :e, k, :cutoff, :deletion_id, :expires from unnest(cast(:keys as text[])) as k order by k
    on conflict (env_id, key) do update set cutoff = greatest(t.cutoff, excluded.cutoff),
        expires_at = greatest(t.expires_at, excluded.expires_at),
        deletion_id = case when excluded.cutoff > t.cutoff then excluded.deletion_id else t.deletion_id end
""")


def delete_members(conn: Connection, env_id: str, members: list[str], identity_keys: set[str],
                   cutoff: datetime, deletion_id: str, keep_days: int) -> tuple[Counter, list[str]]:
    """Delete every row of these (locked) members and tombstone them; the counts and the ids of
    the client sessions that went (replays are recorded under them)."""
    params = {"e": env_id, "ids": members}
    counts = Counter()
    deleted = conn.execute(_DELETE_EVENTS, params).one()
    counts["events"] = deleted.n
    gone = conn.execute(_DELETE_SESSIONS, params).all()
    counts["sessions"] = len(gone)
    client_sessions = sorted(s.session_id for s in gone if s.client)
    counts["replay_marks"] = conn.execute(_DELETE_REPLAYS, {"e": env_id, "ids": client_sessions}).rowcount
    counts["anon_users"] = conn.execute(_DELETE_ANON, params).rowcount
    feed_rows = conn.execute(_DELETE_USERS, params).all()
    counts["users"] = len(feed_rows)
    identities = {r.identity for r in feed_rows if r.identity} | set(deleted.identities)
    counts["merges"] = conn.execute(_DELETE_MERGES, params).scalar()
    keys = ([f"u:{m}" for m in members] + [f"i:{k}" for k in identity_keys | {
        identity_key(env_id, i) for i in identities}] + [f"s:{s}" for s in client_sessions])
    conn.execute(_TOMBSTONES, {"e": env_id, "keys": sorted(set(keys)), "cutoff": cutoff,
                               "deletion_id": deletion_id, "expires": cutoff + timedelta(days=keep_days)})
    return counts, client_sessions


_CLAIM = text("""
    insert into deletions (env_id, deletion_id, requested_at) values (:e, :d, :at)
    on conflict do nothing returning deletion_id
""")
_DONE = text("""
    update deletions set counts = cast(:counts as jsonb), replay_session_ids = cast(:sessions as jsonb),
        done_at = now() where env_id = :e and deletion_id = :d
""")


def apply_deletion(conn: Connection, request: DeletionRequested, keep_days: int) -> bool:
    """Delete the users of a request (inside the caller's transaction); False when it was done before.

    A redelivered request finds its audit row and changes nothing (the row also makes a second
    consumer wait for the first one's commit, then do nothing).
    """
    env_id = request.env_id
    if request.part_of:
        tomb = Tombstone(request.requested_at, request.deletion_id)
        for user_id in sorted(set(request.user_ids)):
            _delete_follower(conn, env_id, user_id, tomb, keep_days)
        return True
    if conn.execute(_CLAIM, {"e": env_id, "d": request.deletion_id, "at": request.requested_at}).first() is None:
        return False
    members = members_locked(conn, env_id, sorted(set(request.user_ids)))
    counts, sessions = delete_members(conn, env_id, members, set(request.identity_keys),
                                      request.requested_at, request.deletion_id, keep_days)
    counts["members"] = len(members)
    conn.execute(_DONE, {"e": env_id, "d": request.deletion_id, "counts": orjson.dumps(counts).decode(),
                         "sessions": orjson.dumps(sessions).decode()})
    return True


# --- Keeping them deleted: facts dated before a deletion are dropped ------------------------------

_FIND = text("""
    select key, cutoff, deletion_id from tombstones
    where env_id = :e and key = any(cast(:keys as text[]))
""")


def tombstones(conn: Connection, env_id: str, keys: set[str]) -> dict[str, Tombstone]:
    if not keys:
        return {}
    return {r.key: Tombstone(r.cutoff, r.deletion_id)
            for r in conn.execute(_FIND, {"e": env_id, "keys": sorted(keys)})}


def live_snapshots(conn: Connection, env_id: str, snapshots: list[UserSnapshot]) -> list[UserSnapshot]:
    """Snapshots, less those of deleted users stating nothing seen after their deletion."""
    dead = tombstones(conn, env_id, {f"u:{s.user_id}" for s in snapshots})
    return [s for s in snapshots if (t := dead.get(f"u:{s.user_id}")) is None
            or (s.last_seen is not None and s.last_seen > t.cutoff)]


def live_replays(conn: Connection, env_id: str, replays: list[ReplayRecording]) -> list[ReplayRecording]:
    """Replays, less those of deleted sessions."""
    dead = tombstones(conn, env_id, {f"s:{r.session_id}" for r in replays})
    return [r for r in replays if f"s:{r.session_id}" not in dead]


_ADD_TO_DELETION = text("""
    update deletions set counts = cast(:counts as jsonb),
        replay_session_ids = replay_session_ids || cast(:sessions as jsonb),
        announced = announced and jsonb_array_length(cast(:sessions as jsonb)) = 0
    where env_id = :e and deletion_id = :d returning deletion_id
""")


def live_merges(conn: Connection, env_id: str, items: list[UserMerge], keep_days: int) -> list[UserMerge]:
    """Merges, less those of deleted ids decided before their deletion (sorted as given).

    A merge into a deleted user decided before its deletion means the merged id was one of its
    members when it was deleted (identity knew before this map did): that id is deleted now, and
    counted with the deletion. Runs under the locks of every id named, taken here first (the
    merges then take them again, a no-op), so a deletion of one of them is seen or waits.
    """
    lock_ids(conn, env_id, {m.from_user_id for m in items} | {m.into_user_id for m in items})
    dead = tombstones(conn, env_id, {f"u:{m.from_user_id}" for m in items} | {f"u:{m.into_user_id}" for m in items})
    if not dead:
        return items
    kept, orphans = [], {}
    for m in items:
        source, target = dead.get(f"u:{m.from_user_id}"), dead.get(f"u:{m.into_user_id}")
        if source is not None and m.at <= source.cutoff:
            continue
        if target is not None and m.at <= target.cutoff:
            orphans.setdefault(m.from_user_id, target)
            continue
        kept.append(m)
    for user_id, tomb in sorted(orphans.items()):
        _delete_follower(conn, env_id, user_id, tomb, keep_days)
    return kept


def _delete_follower(conn: Connection, env_id: str, user_id: str, tomb: Tombstone, keep_days: int) -> None:
    members = members_locked(conn, env_id, [user_id])
    counts, sessions = delete_members(conn, env_id, members, set(), tomb.cutoff, tomb.deletion_id, keep_days)
    counts["members"] = len(members)
    row = conn.execute(text("select counts from deletions where env_id = :e and deletion_id = :d"),
                       {"e": env_id, "d": tomb.deletion_id}).first()
    total = Counter(row.counts if row else {}) + counts
    conn.execute(_ADD_TO_DELETION, {"e": env_id, "d": tomb.deletion_id, "counts": orjson.dumps(total).decode(),
                                    "sessions": orjson.dumps(sessions).decode()})


# --- The replay service's part: announced after the commit (an outbox) ----------------------------

_UNANNOUNCED = text("""
    select env_id, deletion_id, requested_at, replay_session_ids from deletions
    where not announced and done_at is not null order by done_at limit 100
""")
_ANNOUNCED = text("update deletions set announced = true where env_id = :e and deletion_id = :d")


def announce(engine: Engine, publish) -> int:
    """Publish the replay part of every deletion not yet announced; returns how many.

    `publish(message)` returns once the broker confirmed, else raises (the worker then retries the
    batch, which finds its deletions done and announces them again: the replay service's part is
    idempotent).
    """
    with engine.begin() as conn:
        pending = conn.execute(_UNANNOUNCED).all()
        for row in pending:
            publish(ReplaysDeletionRequested(env_id=row.env_id, deletion_id=row.deletion_id,
                                             requested_at=row.requested_at,
                                             session_ids=row.replay_session_ids))
            conn.execute(_ANNOUNCED, {"e": row.env_id, "d": row.deletion_id})
    return len(pending)


def deletion_status(conn: Connection, env_id: str, deletion_ids: list[str]) -> dict[str, dict]:
    """Per deletion done here: its counts and when it was done."""
    rows = conn.execute(text("""
        select deletion_id, counts, done_at, announced from deletions
        where env_id = :e and deletion_id = any(cast(:ids as text[])) and done_at is not null
    """), {"e": env_id, "ids": deletion_ids})
    return {r.deletion_id: {"counts": r.counts, "done_at": r.done_at, "announced": r.announced} for r in rows}
