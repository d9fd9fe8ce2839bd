"""Deleting users for good (`user.deletion_requested`), and keeping their earlier facts out.

A deletion takes an environment's lock exclusively; every batch of events and commands takes it
shared before it reads the tombstones (consumer.py). So a batch either committed before the
deletion (which then deletes what it wrote) or reads the deletion's tombstones. The lock is held
for the few milliseconds a deletion of identity rows takes.

Each named user's owner and every id it owns (its members) lose their rows: users, links,
devices, properties, the merge log and the warnings about them. Tombstones (`u:<id>` per member,
`i:<identity key>` per identity they were known by) drop events and commands dated up to the
deletion: still queued, redelivered or sent again from an SDK's offline queue, they never bring
the user back; a person coming back later is a new user.
"""
from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import NamedTuple

import orjson
from sqlalchemy import Connection, text

from footfall.ids import anonymous_user_id, identified_user_id, identity_key
from footfall.messages import DeletionRequested, IdentityCommands, Message
from footfall.readers import with_items

LOCK_SPACE = 4_041  # first key of the two-key advisory lock: one per environment

_LOCK_SHARED = text(f"select pg_advisory_xact_lock_shared({LOCK_SPACE}, hashtext(:e))")
_LOCK = text(f"select pg_advisory_xact_lock({LOCK_SPACE}, hashtext(:e))")


def lock_shared(conn: Connection, env_id: str) -> None:
    conn.execute(_LOCK_SHARED, {"e": env_id})


_CLAIM = text("""
    insert into deletions (env_id, deletion_id, requested_at) values (:e, :d, :at)
    on conflict do nothing returning deletion_id
""")
_MEMBERS = text("""
    with named as (select unnest(cast(:ids as text[])) as id),
    roots as (select coalesce(u.owner_id, n.id) as root from named n
              left join users u on u.env_id = :e and u.user_id = n.id)
    select root from roots
    union
    select u.user_id from users u join roots r on u.env_id = :e and u.owner_id = r.root
""")
_IDENTITIES = text("""
    select identity from users where env_id = :e and user_id = any(cast(:ids as text[])) and identity is not null
    union
    select identity from links where env_id = :e and anonymous_user_id = any(cast(:ids as text[]))
""")
_DELETES = {
    "users": "delete from users where env_id = :e and user_id = any(cast(:ids as text[]))",
    "links": "delete from links where env_id = :e and anonymous_user_id = any(cast(:ids as text[]))",
    "devices": "delete from devices where env_id = :e and user_id = any(cast(:ids as text[]))",
    "properties": "delete from user_properties where env_id = :e and user_id = any(cast(:ids as text[]))",
    "merge_log": """delete from merge_log where env_id = :e
                    and (from_user_id = any(cast(:ids as text[])) or into_user_id = any(cast(:ids as text[])))""",
    "warnings": "delete from warnings where env_id = :e and subject = any(cast(:ids as text[]))",
}
_TOMBSTONES = text("""
    insert into tombstones as t (env_id, key, cutoff, deletion_id, expires_at)
    select :e, k, :cutoff, :d, :expires from unnest(cast(:keys as text[])) as k order by k
    on conflict (env_id, key) do update set cutoff = greatest(t.cutoff, excluded.cutoff),
        expires_at = greatest(t.expires_at, excluded.expires_at)
""")
_DONE = text("update deletions set counts = cast(:counts as jsonb), done_at = now()"
             " where env_id = :e and deletion_id = :d")


_ADD = text("""
    update deletions set counts = (select jsonb_object_agg(k, coalesce((counts->>k)::bigint, 0) + v::bigint)
                                   from jsonb_each_text(cast(:counts as jsonb)) as x(k, v))
    where env_id = :e and deletion_id = :d
""")


def apply_deletion(conn: Connection, request: DeletionRequested, keep_days: int) -> bool:
    """Delete the named users and their members; False when this deletion was done before.

    A request `part_of` an earlier deletion (late members) adds its counts to that one's.
    """
    env_id = request.env_id
    conn.execute(_LOCK, {"e": env_id})
    params = {"e": env_id, "d": request.deletion_id, "at": request.requested_at}
    if not request.part_of and conn.execute(_CLAIM, params).first() is None:
        return False
    members = sorted(set(conn.scalars(_MEMBERS, {"e": env_id, "ids": sorted(set(request.user_ids))})))
    ids = {"e": env_id, "ids": members}
    identities = set(conn.scalars(_IDENTITIES, ids))
    counts = Counter({name: conn.execute(text(sql), ids).rowcount for name, sql in _DELETES.items()})
    counts["members"] = len(members)
    keys = {f"u:{m}" for m in members} | {f"i:{k}" for k in request.identity_keys} | {
        f"i:{identity_key(env_id, i)}" for i in identities}
    conn.execute(_TOMBSTONES, {**params, "keys": sorted(keys), "cutoff": request.requested_at,
                               "expires": request.requested_at + timedelta(days=keep_days)})
    conn.execute(_ADD if request.part_of else _DONE, {**params, "counts": orjson.dumps(counts).decode()})
    return True


def deletion_status(conn: Connection, env_id: str, deletion_ids: list[str]) -> dict[str, dict]:
    rows = conn.execute(text("""
        select deletion_id, counts, done_at from deletions
        where env_id = :e and deletion_id = any(cast(:ids as text[])) and done_at is not null
    """), {"e": env_id, "ids": deletion_ids})
    return {r.deletion_id: {"counts": r.counts, "done_at": r.done_at} for r in rows}


# --- Screening what arrives --------------------------------------------------------------------

_HAS_ANY = text("select 1 from tombstones where env_id = :e limit 1")
_FIND = text("select key, cutoff, deletion_id from tombstones where env_id = :e and key = any(cast(:keys as text[]))")


def _identity_keys(env_id: str, identity: str) -> list[str]:
    """An identity's tombstone keys: its hash, and its user's id (a deletion by user id knows only that)."""
    return [f"i:{identity_key(env_id, identity)}", f"u:{identified_user_id(env_id, identity)}"]


def _event_keys(env_id: str, event) -> list[str]:
    keys = [f"u:{event.user_id}"]
    if event.identity is not None:
        keys += _identity_keys(env_id, event.identity)
    return keys


def _command_keys(env_id: str, command) -> list[str]:
    keys = []
    identity = getattr(command, "identity", None)
    if identity is not None:
        keys += _identity_keys(env_id, identity)
    if getattr(command, "user_id", None):
        keys.append(f"u:{command.user_id}")
    if getattr(command, "device_id", None):
        keys.append(f"u:{anonymous_user_id(command.device_id)}")
    if getattr(command, "previous_id", None):
        keys.append(f"u:{anonymous_user_id(command.previous_id)}")
    return keys


class Tomb(NamedTuple):
    cutoff: datetime
    deletion_id: str


def screen(conn: Connection, env_id: str, messages: list[Message]) -> tuple[list[Message], dict[str, Tomb]]:
    """The messages less their events and commands that name a deleted id and are dated up to its
    deletion; and the late members: ids such a dropped identify or alias claimed for a deleted
    identity (they were the deleted user's when it was deleted, so they go too).
    Call holding the environment's lock shared (lock_shared)."""
    if conn.execute(_HAS_ANY, {"e": env_id}).first() is None:
        return messages, {}  # the usual case: one index probe per batch
    items = [(m, item, (_command_keys if isinstance(m, IdentityCommands) else _event_keys)(env_id, item))
             for m in messages for item in (m.commands if isinstance(m, IdentityCommands) else m.events)]
    wanted = sorted({k for _, _, keys in items for k in keys})
    dead = {r.key: Tomb(r.cutoff, r.deletion_id) for r in conn.execute(_FIND, {"e": env_id, "keys": wanted})}
    if not dead:
        return messages, {}
    kept: dict[int, list] = {id(m): [] for m in messages}
    late: dict[str, Tomb] = {}
    for message, item, keys in items:
        hits = [k for k in keys if k in dead and item.time <= dead[k].cutoff]
        if not hits:
            kept[id(message)].append(item)
            continue
        claims = getattr(item, "type", "event") in ("identify", "alias", "event")
        identity = getattr(item, "identity", None)
        if claims and identity is not None and set(hits) & set(_identity_keys(env_id, identity)):
            # It claimed a deleted identity: the ids it names were that user's.
            for key in keys:
                if key.startswith("u:") and key not in dead:
                    late[key[2:]] = dead[hits[0]]
    return [with_items(m, kept[id(m)]) for m in messages], late




def late_member_deletions(env_id: str, members: dict[str, Tomb]) -> list[DeletionRequested]:
    """One request per deletion that gained late members, `part_of` it (this service applies it
    too, from its own queue, like any deletion)."""
    by_deletion: dict[Tomb, list[str]] = {}
    for user_id, tomb in sorted(members.items()):
        by_deletion.setdefault(tomb, []).append(user_id)
    return [DeletionRequested(env_id=env_id, deletion_id=tomb.deletion_id, requested_at=tomb.cutoff,
                              user_ids=ids, part_of=True) for tomb, ids in by_deletion.items()]
