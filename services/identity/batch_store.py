"""The per-batch write path: upserts that keep the identity tables the join of all facts (merge.py).

Each id keeps its own facts (`users.own_*`, `user_properties`, `devices`, `links`), joined with
LEAST/GREATEST/compare-by-event-time upserts, a few statements per batch whatever its size.
Owners (surviving users) carry a materialised state recomputed from their members whenever a
member changed, so a relink (an earlier claim arriving late) is just a recompute of both users.

Concurrency (owners.py): every change to an id, or to who owns it, is made holding an advisory
lock on its owner, and the state the batch compares against is read under those locks.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import select, text
from sqlalchemy.engine import Connection

from footfall.ids import identified_user_id
from footfall.messages import UserMerge, UserSnapshot
from services.identity.merge import Facts, Seen, Warning, bounds_warning
from services.identity.owners import Resolved, lock_owners, owners_of
from services.identity.store import devices, json_rows, load_users

# --- Statements -------------------------------------------------------------------------------------
# Bulk rows travel as one JSON array read with jsonb_to_recordset: PostgreSQL parses it in
# milliseconds, where arrays of jsonb or timestamps cost far more to encode and to parse. Lists
# of ids too: psycopg's text[] dumper runs a regex per element (~4 µs per event of a batch).

_INSERT_USERS = text("""
insert into users (env_id, user_id, identity, owner_id)
select :env, v.user_id, v.identity, v.user_id
from jsonb_to_recordset(cast(:rows as jsonb)) as v(user_id text, identity text)
order by v.user_id
on conflict (env_id, user_id) do nothing
returning user_id
""")

_SET_IDENTITY = text("""
update users set identity = v.identity, owner_id = users.user_id, merged_at = null
from jsonb_to_recordset(cast(:rows as jsonb)) as v(user_id text, identity text)
where users.env_id = :env and users.user_id = v.user_id
""")

# One statement joins a batch's seen-facts into the ids' own columns and, for owners whose members
# did not change, into the materialised columns too (an incremental join: the same result as a
# recompute, at one row write per id). Every SET expression reads the row as it was, so the flags
# are written inline rather than read from a second scan of the table; RETURNING gives the new
# version, which the caller compares with the one it read under the lock to tell whose rose.
_OWN_EARLIER = ("v.own_first_seen is not null and (u.own_first_seen is null"
                " or (v.own_first_seen, v.own_first_event) < (u.own_first_seen, u.own_first_event))")
_OWN_LATER = "v.own_last_seen > coalesce(u.own_last_seen, '-infinity')"
_EARLIER = ("v.first_seen is not null"
            " and (u.first_seen is null or (v.first_seen, v.first_event) < (u.first_seen, u.first_event))")
_LATER_SEEN = "v.last_seen > coalesce(u.last_seen, '-infinity')"
_SEEN = text(f"""
update users u set
    own_first_seen = case when {_OWN_EARLIER} then v.own_first_seen else u.own_first_seen end,
    own_first_event = case when {_OWN_EARLIER} then v.own_first_event else u.own_first_event end,
    own_initial = case when {_OWN_EARLIER} then v.own_initial else u.own_initial end,
    own_last_seen = greatest(u.own_last_seen, v.own_last_seen),
    first_seen = case when {_EARLIER} then v.first_seen else u.first_seen end,
    first_event = case when {_EARLIER} then v.first_event else u.first_event end,
    initial = case when {_EARLIER} then v.initial else u.initial end,
    last_seen = greatest(u.last_seen, v.last_seen),
    version = u.version + case when {_EARLIER} or {_LATER_SEEN} then 1 else 0 end,
    updated_at = case when {_EARLIER} or {_LATER_SEEN} then now() else u.updated_at end
from jsonb_to_recordset(cast(:rows as jsonb)) as v(
    user_id text, own_first_seen timestamptz, own_first_event text, own_initial jsonb,
    own_last_seen timestamptz, first_seen timestamptz, first_event text, initial jsonb,
    last_seen timestamptz)
where u.env_id = :env and u.user_id = v.user_id
  and (({_OWN_EARLIER}) or {_OWN_LATER} or ({_EARLIER}) or {_LATER_SEEN})
returning u.user_id, u.version
""")

# Rows that cannot win are left out before the upsert (the left join): ON CONFLICT DO UPDATE
# locks every conflicting row, a WAL-logged write, even when its WHERE then refuses the update,
# and nearly every device of a batch is known. Values only ever move one way, so a row read as
# winning no longer is harmless (the upsert compares again), and one read as losing stays lost.
_DEVICES = text("""
insert into devices as d (env_id, user_id, device_id, first_seen)
select :env, v.user_id, v.device_id, v.first_seen
from jsonb_to_recordset(cast(:rows as jsonb)) as v(user_id text, device_id text, first_seen timestamptz)
left join devices cur on cur.env_id = :env and cur.user_id = v.user_id and cur.device_id = v.device_id
where cur.first_seen is null or v.first_seen < cur.first_seen
order by v.user_id, v.device_id
on conflict (env_id, user_id, device_id) do update set first_seen = excluded.first_seen
    where excluded.first_seen < d.first_seen
""")

_LINKS = text("""
insert into links as l (env_id, anonymous_user_id, identity, claimed_at, claim_id)
select :env, v.user_id, v.identity, v.claimed_at, v.claim_id
from jsonb_to_recordset(cast(:rows as jsonb))
    as v(user_id text, identity text, claimed_at timestamptz, claim_id text)
order by v.user_id
on conflict (env_id, anonymous_user_id) do update
    set identity = excluded.identity, claimed_at = excluded.claimed_at, claim_id = excluded.claim_id
    where (excluded.claimed_at, excluded.claim_id, excluded.identity) < (l.claimed_at, l.claim_id, l.identity)
returning anonymous_user_id, identity, claimed_at
""")

_MOVE = text("""
update users set owner_id = v.owner_id, merged_at = v.at
from jsonb_to_recordset(cast(:rows as jsonb)) as v(user_id text, owner_id text, at timestamptz)
where users.env_id = :env and users.user_id = v.user_id
""")

_MERGE_LOG = text("""
insert into merge_log (env_id, from_user_id, into_user_id, identity, at)
select :env, v.user_id, v.owner_id, v.identity, v.at
from jsonb_to_recordset(cast(:rows as jsonb)) as v(user_id text, owner_id text, identity text, at timestamptz)
on conflict do nothing
""")

_LATER = "(v.set_at, v.set_by) > (p.set_at, p.set_by)"
_PROPERTIES = text(f"""
insert into user_properties as p (env_id, user_id, key, value, set_at, set_by, first_set_at)
select :env, v.user_id, v.key, v.value, v.set_at, v.set_by, v.first_set_at
from jsonb_to_recordset(cast(:rows as jsonb))
    as v(user_id text, key text, value jsonb, set_at timestamptz, set_by text, first_set_at timestamptz)
left join user_properties cur on cur.env_id = :env and cur.user_id = v.user_id and cur.key = v.key
where cur.key is null or {_LATER.replace("p.", "cur.")} or v.first_set_at < cur.first_set_at
order by v.user_id, v.key
on conflict (env_id, user_id, key) do update set
    value = case when {_LATER.replace("v.", "excluded.")} then excluded.value else p.value end,
    set_by = case when {_LATER.replace("v.", "excluded.")} then excluded.set_by else p.set_by end,
    set_at = greatest(p.set_at, excluded.set_at),
    first_set_at = least(p.first_set_at, excluded.first_set_at)
    where {_LATER.replace("v.", "excluded.")} or excluded.first_set_at < p.first_set_at
returning user_id
""")

# The materialised state of an owner is a function of its members' own facts; the version rises
# with every change. Driven by the list of owners (a join, not `= any(...)`), so even a table the
# planner has no statistics for yet is read by index, never scanned once per owner.
_RECOMPUTE = text("""
with owners as (select jsonb_array_elements_text(cast(:owners as jsonb)) as owner_id),
agg as materialized (
    select o.owner_id,
           min(m.own_first_seen) as first_seen,
           (array_agg(m.own_first_event order by m.own_first_seen, m.own_first_event)
                     filter (where m.own_first_seen is not null))[1] as first_event,
           coalesce((array_agg(m.own_initial order by m.own_first_seen, m.own_first_event)
                     filter (where m.own_first_seen is not null))[1], '{}') as initial,
           max(m.own_last_seen) as last_seen
    from owners o join users m on m.env_id = :env and m.owner_id = o.owner_id
    group by o.owner_id
)
update users u set first_seen = agg.first_seen, first_event = agg.first_event, initial = agg.initial,
                   last_seen = agg.last_seen, version = u.version + 1, updated_at = now()
from agg
where u.env_id = :env and u.user_id = agg.owner_id
  and (u.first_seen is distinct from agg.first_seen or u.last_seen is distinct from agg.last_seen
       or u.initial is distinct from agg.initial)
returning u.user_id
""")

_BUMP = text("""
update users set version = version + 1, updated_at = now()
where env_id = :env and user_id = any(array(select jsonb_array_elements_text(cast(:owners as jsonb))))
    and owner_id = user_id
""")

_WARNINGS = text("""
insert into warnings (env_id, key, kind, message, subject, details, occurred_at)
select :env, v.key, v.kind, v.message, v.subject, v.details, v.occurred_at
from jsonb_to_recordset(cast(:rows as jsonb))
    as v(key text, kind text, message text, subject text, details jsonb, occurred_at timestamptz)
order by v.key
on conflict (env_id, key) do nothing
""")


# --- Applying facts ---------------------------------------------------------------------------------


@dataclass
class Outcome:
    """What a batch changed: the merges it made and snapshots of the users whose version rose."""

    merges: list[UserMerge] = field(default_factory=list)
    snapshots: list[UserSnapshot] = field(default_factory=list)


def apply(conn: Connection, facts: Facts) -> Outcome:
    """Join `facts` into the tables inside the caller's transaction; return merges and new snapshots."""
    env = facts.env_id
    ids = sorted(facts.user_ids())
    outcome = Outcome()
    if ids:
        _apply(conn, facts, ids, outcome)
    _insert_warnings(conn, env, list(facts.warnings.values()))
    return outcome


def _apply(conn: Connection, facts: Facts, ids: list[str], outcome: Outcome) -> None:
    env = facts.env_id
    rows = owners_of(conn, env, ids)
    missing = [{"user_id": i, "identity": facts.identities.get(i)} for i in ids if i not in rows]
    created = set(conn.scalars(_INSERT_USERS, {"env": env, "rows": json_rows(missing)}).all()) if missing else set()
    rows.update({m["user_id"]: Resolved(m["user_id"], m["identity"]) for m in missing if m["user_id"] in created})
    rows = lock_owners(conn, facts, ids, rows)
    owner = {user_id: r.owner for user_id, r in rows.items()}
    identified = {user_id for user_id, r in rows.items() if r.identity is not None}
    dirty: set[str] = set()  # owners that lost or gained a member: recomputed from their members
    bumped: set[str] = set()  # owners whose version rose already

    # An id first seen anonymously and later learnt to be an identified user owns itself.
    late = sorted(i for i in facts.identities if i not in identified)
    if late:
        conn.execute(_SET_IDENTITY, {"env": env, "rows": json_rows(
            [{"user_id": i, "identity": facts.identities[i]} for i in late])})
        for user_id in late:
            dirty |= {owner[user_id], user_id}
            owner[user_id] = user_id
            identified.add(user_id)

    if facts.devices:
        conn.execute(_DEVICES, {"env": env, "rows": json_rows([
            {"user_id": u, "device_id": d, "first_seen": first} for (u, d), first in facts.devices.items()])})

    if facts.claims:
        outcome.merges = _link(conn, facts, owner, identified, dirty)

    if seen_rows := _seen_rows(facts, owner, dirty, rows):
        bumped |= {user_id for user_id, version in conn.execute(_SEEN, {"env": env, "rows": json_rows(seen_rows)}).all()
                   if user_id in rows and version > rows[user_id].version}

    if dirty:
        bumped |= set(conn.scalars(_RECOMPUTE, {"env": env, "owners": json_rows(sorted(dirty))}))

    others = {owner[i] for i in created} | dirty
    if facts.properties:
        others |= {owner[i] for i in conn.scalars(_PROPERTIES, {"env": env, "rows": json_rows([
            {"user_id": u, "key": k, "value": w.value, "set_at": w.set_at, "set_by": w.set_by,
             "first_set_at": w.first_set} for (u, k), w in facts.properties.items()])})}
    # Owners whose properties or members changed but whose seen-state did not still get a version.
    rest = sorted(others - bumped)
    if rest:
        conn.execute(_BUMP, {"env": env, "owners": json_rows(rest)})
    changed = sorted(bumped | others)
    if changed:
        snapshots, dropped = load_users(conn, env, changed)
        outcome.snapshots = list(snapshots.values())
        now = datetime.now(UTC)
        _insert_warnings(conn, env, [bounds_warning(u, keys, now) for u, keys in dropped.items()])


def _earlier(seen: Seen | None, stored: tuple[datetime, str] | None) -> bool:
    return seen is not None and (stored is None or (seen.first_seen, seen.first_event) < stored)


def _later(seen: Seen | None, stored: datetime | None) -> bool:
    return seen is not None and (stored is None or seen.last_seen > stored)


def _seen_rows(facts: Facts, owner: dict[str, str], dirty: set[str], state: dict[str, Resolved]) -> list[dict]:
    """Per id: its own new seen-facts and, for a stable owner, the join of its members' new facts.

    Only what beats the state read under the lock is sent (a known device's event usually moves
    last seen alone, so its initial properties stay home), and keys with nothing to send are left
    out (read as NULL: half the JSON for PostgreSQL to parse); _SEEN compares again in SQL all the
    same. The state covers every id and owner of the batch (owners.lock_owners reads both).
    """
    joined: dict[str, Seen] = {}
    for user_id, seen in facts.seen.items():
        o = owner[user_id]
        if o not in dirty:  # dirty owners are recomputed from all their members instead
            joined[o] = seen.join(joined[o]) if o in joined else seen
    unknown = Resolved("", None)
    rows = []
    for user_id in sorted(set(facts.seen) | set(joined)):
        own, mine, stored = facts.seen.get(user_id), joined.get(user_id), state.get(user_id, unknown)
        row: dict = {"user_id": user_id}
        if _earlier(own, stored.own_first):
            row.update(own_first_seen=own.first_seen, own_first_event=own.first_event, own_initial=own.initial)
        if _later(own, stored.own_last_seen):
            row["own_last_seen"] = own.last_seen
        if _earlier(mine, stored.first):
            row.update(first_seen=mine.first_seen, first_event=mine.first_event, initial=mine.initial)
        if _later(mine, stored.last_seen):
            row["last_seen"] = mine.last_seen
        if len(row) > 1:
            rows.append(row)
    return rows


def _link(conn, facts: Facts, owner: dict, identified: set, dirty: set) -> list[UserMerge]:
    """Record claims; move every id whose winning claim changed to its identity's user."""
    env = facts.env_id
    won = conn.execute(_LINKS, {"env": env, "rows": json_rows([
        {"user_id": u, "identity": c.identity, "claimed_at": c.claimed_at, "claim_id": c.claim_id}
        for u, c in facts.claims.items()])}).all()
    moves = []
    for user_id, identity, claimed_at in sorted(won):
        target = identified_user_id(env, identity)
        if user_id in identified or owner[user_id] == target:
            continue  # identified users never move; an earlier claim of the same identity moves nothing
        moves.append({"user_id": user_id, "previous": owner[user_id], "owner_id": target,
                      "identity": identity, "at": claimed_at})
    if not moves:
        return []
    conn.execute(_MOVE, {"env": env, "rows": json_rows(moves)})
    conn.execute(_MERGE_LOG, {"env": env, "rows": json_rows(moves)})
    device_ids = defaultdict(list)
    for user_id, device_id in conn.execute(
        select(devices.c.user_id, devices.c.device_id)
        .where(devices.c.env_id == env, devices.c.user_id.in_([m["user_id"] for m in moves]))
        .order_by(devices.c.device_id)
    ):
        device_ids[user_id].append(device_id)
    merges = []
    for move in moves:
        user_id, target = move["user_id"], move["owner_id"]
        owner[user_id] = target
        dirty.add(target)
        if move["previous"] != user_id:
            dirty.add(move["previous"])  # a relink: the previous identity's user loses this id
        merges.append(UserMerge(from_user_id=user_id, into_user_id=target, identity=move["identity"],
                                device_ids=device_ids[user_id], at=move["at"]))
    return merges


def _insert_warnings(conn: Connection, env: str, items: list[Warning]) -> None:
    if items:
        conn.execute(_WARNINGS, {"env": env, "rows": json_rows([
            {"key": w.key, "kind": w.kind, "message": w.message, "subject": w.subject,
             "details": w.details, "occurred_at": w.occurred_at} for w in items])})
