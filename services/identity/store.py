"""Identity tables and the batch upserts that keep them the join of all facts (see merge.py).

Each id keeps its own facts (`users.own_*`, `user_properties`, `devices`, `links`), joined with
LEAST/GREATEST/compare-by-event-time upserts, a few statements per batch whatever its size.
Owners (surviving users) carry a materialised state recomputed from their members whenever a
member changed, so a relink (an earlier claim arriving late) is just a recompute of both users.

Concurrency: every change to an id, or to who owns it, is made holding a transaction-scoped
advisory lock on its owner; owners are resolved, locked (in key order), then resolved again until
stable, so a merge racing with new events (or two devices claiming one new identity) serialise on
the identified user and each recompute sees every committed member.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime

import orjson
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    LargeBinary,
    MetaData,
    Table,
    Text,
    delete,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Connection, Engine

from footfall.ids import hash53, identified_user_id
from footfall.messages import UserMerge, UserSnapshot
from services.identity.merge import Facts, Warning, bounds_warning, user_properties
from services.identity.properties import PropertyWrite

metadata = MetaData(schema="identity")

users = Table(
    "users", metadata,
    Column("env_id", Text, primary_key=True), Column("user_id", Text, primary_key=True),
    Column("identity", Text), Column("owner_id", Text, nullable=False),
    Column("merged_at", DateTime(timezone=True)),
    Column("own_first_seen", DateTime(timezone=True)), Column("own_first_event", Text),
    Column("own_initial", JSONB), Column("own_last_seen", DateTime(timezone=True)),
    Column("first_seen", DateTime(timezone=True)), Column("initial", JSONB, nullable=False),
    Column("last_seen", DateTime(timezone=True)), Column("version", BigInteger, nullable=False),
    Column("created_at", DateTime(timezone=True)), Column("updated_at", DateTime(timezone=True)),
)
devices = Table(
    "devices", metadata,
    Column("env_id", Text, primary_key=True), Column("user_id", Text, primary_key=True),
    Column("device_id", Text, primary_key=True),
    Column("first_seen", DateTime(timezone=True)), Column("last_seen", DateTime(timezone=True)),
)
links = Table(
    "links", metadata,
    Column("env_id", Text, primary_key=True), Column("anonymous_user_id", Text, primary_key=True),
    Column("identity", Text), Column("claimed_at", DateTime(timezone=True)), Column("claim_id", Text),
)
user_properties_table = Table(
    "user_properties", metadata,
    Column("env_id", Text, primary_key=True), Column("user_id", Text, primary_key=True),
    Column("key", Text, primary_key=True), Column("value", JSONB),
    Column("set_at", DateTime(timezone=True)), Column("set_by", Text),
    Column("first_set_at", DateTime(timezone=True)),
)
merge_log = Table(
    "merge_log", metadata,
    Column("env_id", Text, primary_key=True), Column("from_user_id", Text, primary_key=True),
    Column("into_user_id", Text, primary_key=True), Column("identity", Text),
    Column("at", DateTime(timezone=True)), Column("recorded_at", DateTime(timezone=True)),
)
warnings = Table(
    "warnings", metadata,
    Column("id", BigInteger, primary_key=True), Column("env_id", Text), Column("key", Text),
    Column("kind", Text), Column("message", Text), Column("subject", Text), Column("details", JSONB),
    Column("occurred_at", DateTime(timezone=True)), Column("recorded_at", DateTime(timezone=True)),
)
outbox = Table(
    "outbox", metadata,
    Column("id", BigInteger, primary_key=True), Column("routing_key", Text),
    Column("message_id", Text), Column("body", LargeBinary), Column("created_at", DateTime(timezone=True)),
)


def _json(value) -> str:
    return orjson.dumps(value).decode()


# --- Statements -------------------------------------------------------------------------------------

_INSERT_USERS = text("""
insert into users (env_id, user_id, identity, owner_id)
select :env, v.user_id, v.identity, v.user_id
from unnest(cast(:ids as text[]), cast(:identities as text[])) as v(user_id, identity)
order by v.user_id
on conflict (env_id, user_id) do nothing
returning user_id
""")

_RESOLVE = text("""
select user_id, owner_id, identity from users where env_id = :env and user_id = any(cast(:ids as text[]))
""")

# Locks taken in key order (the sorted subquery) so two batches never wait on each other in a cycle.
_LOCK = text("""
select count(pg_advisory_xact_lock(k)) from (select unnest(cast(:keys as bigint[])) as k order by 1) s
""")

_SET_IDENTITY = text("""
update users set identity = v.identity, owner_id = users.user_id, merged_at = null
from unnest(cast(:ids as text[]), cast(:identities as text[])) as v(user_id, identity)
where users.env_id = :env and users.user_id = v.user_id
""")

_SEEN = text("""
update users u set
    own_first_seen = case when u.own_first_seen is null or (v.first_seen, v.first_event)
        < (u.own_first_seen, u.own_first_event) then v.first_seen else u.own_first_seen end,
    own_first_event = case when u.own_first_seen is null or (v.first_seen, v.first_event)
        < (u.own_first_seen, u.own_first_event) then v.first_event else u.own_first_event end,
    own_initial = case when u.own_first_seen is null or (v.first_seen, v.first_event)
        < (u.own_first_seen, u.own_first_event) then v.initial else u.own_initial end,
    own_last_seen = greatest(u.own_last_seen, v.last_seen)
from (
    select * from unnest(cast(:ids as text[]), cast(:firsts as timestamptz[]), cast(:events as text[]),
                         cast(:initials as jsonb[]), cast(:lasts as timestamptz[]))
        as x(user_id, first_seen, first_event, initial, last_seen)
    order by user_id
) v
where u.env_id = :env and u.user_id = v.user_id
  and (u.own_first_seen is null or (v.first_seen, v.first_event) < (u.own_first_seen, u.own_first_event)
       or u.own_last_seen < v.last_seen)
returning u.user_id
""")

_DEVICES = text("""
insert into devices as d (env_id, user_id, device_id, first_seen, last_seen)
select :env, v.user_id, v.device_id, v.first_seen, v.last_seen
from unnest(cast(:ids as text[]), cast(:devices as text[]), cast(:firsts as timestamptz[]),
            cast(:lasts as timestamptz[])) as v(user_id, device_id, first_seen, last_seen)
order by v.user_id, v.device_id
on conflict (env_id, user_id, device_id) do update
    set first_seen = least(d.first_seen, excluded.first_seen), last_seen = greatest(d.last_seen, excluded.last_seen)
    where excluded.first_seen < d.first_seen or excluded.last_seen > d.last_seen
""")

_LINKS = text("""
insert into links as l (env_id, anonymous_user_id, identity, claimed_at, claim_id)
select :env, v.user_id, v.identity, v.claimed_at, v.claim_id
from unnest(cast(:ids as text[]), cast(:identities as text[]), cast(:times as timestamptz[]),
            cast(:claim_ids as text[])) as v(user_id, identity, claimed_at, claim_id)
order by v.user_id
on conflict (env_id, anonymous_user_id) do update
    set identity = excluded.identity, claimed_at = excluded.claimed_at, claim_id = excluded.claim_id
    where (excluded.claimed_at, excluded.claim_id, excluded.identity) < (l.claimed_at, l.claim_id, l.identity)
returning anonymous_user_id, identity, claimed_at
""")

_MOVE = text("""
update users set owner_id = v.owner_id, merged_at = v.at
from unnest(cast(:ids as text[]), cast(:owners as text[]), cast(:times as timestamptz[])) as v(user_id, owner_id, at)
where users.env_id = :env and users.user_id = v.user_id
""")

_MERGE_LOG = text("""
insert into merge_log (env_id, from_user_id, into_user_id, identity, at)
select :env, * from unnest(cast(:ids as text[]), cast(:owners as text[]), cast(:identities as text[]),
                           cast(:times as timestamptz[]))
on conflict do nothing
""")

_PROPERTIES = text("""
insert into user_properties as p (env_id, user_id, key, value, set_at, set_by, first_set_at)
select :env, v.user_id, v.key, v.value, v.set_at, v.set_by, v.first_set_at
from unnest(cast(:ids as text[]), cast(:keys as text[]), cast(:values as jsonb[]),
            cast(:times as timestamptz[]), cast(:bys as text[]), cast(:firsts as timestamptz[]))
    as v(user_id, key, value, set_at, set_by, first_set_at)
order by v.user_id, v.key
on conflict (env_id, user_id, key) do update set
    value = case when (excluded.set_at, excluded.set_by) > (p.set_at, p.set_by) then excluded.value else p.value end,
    set_by = case when (excluded.set_at, excluded.set_by) > (p.set_at, p.set_by) then excluded.set_by else p.set_by end,
    set_at = greatest(p.set_at, excluded.set_at),
    first_set_at = least(p.first_set_at, excluded.first_set_at)
    where (excluded.set_at, excluded.set_by) > (p.set_at, p.set_by) or excluded.first_set_at < p.first_set_at
returning user_id
""")

# The materialised state of an owner is a function of its members' own facts.
_RECOMPUTE = text("""
with agg as (
    select owner_id,
           min(own_first_seen) as first_seen,
           coalesce((array_agg(own_initial order by own_first_seen, own_first_event)
                     filter (where own_first_seen is not null))[1], '{}') as initial,
           max(own_last_seen) as last_seen
    from users where env_id = :env and owner_id = any(cast(:owners as text[]))
    group by owner_id
)
update users u set first_seen = agg.first_seen, initial = agg.initial, last_seen = agg.last_seen
from agg
where u.env_id = :env and u.user_id = agg.owner_id and u.owner_id = u.user_id
  and (u.first_seen is distinct from agg.first_seen or u.last_seen is distinct from agg.last_seen
       or u.initial is distinct from agg.initial)
returning u.user_id
""")

_BUMP = text("""
update users set version = version + 1, updated_at = now()
where env_id = :env and user_id = any(cast(:owners as text[])) and owner_id = user_id
""")

_OWNERS = text("""
select user_id, identity, first_seen, last_seen, initial, version
from users where env_id = :env and user_id = any(cast(:owners as text[])) and owner_id = user_id
""")

# Per key, the latest write over every id the user owns; `first_set_at` over all of them (bounds).
_OWNER_PROPERTIES = text("""
select owner_id, key, value, set_at, set_by, first_set_at from (
    select o.owner_id, p.key, p.value, p.set_at, p.set_by,
           min(p.first_set_at) over (partition by o.owner_id, p.key) as first_set_at,
           row_number() over (partition by o.owner_id, p.key order by p.set_at desc, p.set_by desc) as rank
    from user_properties p join users o on o.env_id = p.env_id and o.user_id = p.user_id
    where o.env_id = :env and o.owner_id = any(cast(:owners as text[]))
) ranked where rank = 1
""")

_WARNINGS = text("""
insert into warnings (env_id, key, kind, message, subject, details, occurred_at)
select :env, * from unnest(cast(:keys as text[]), cast(:kinds as text[]), cast(:messages as text[]),
                           cast(:subjects as text[]), cast(:details as jsonb[]), cast(:times as timestamptz[]))
on conflict (env_id, key) do nothing
""")


# --- Applying facts ---------------------------------------------------------------------------------


@dataclass
class Outcome:
    """What a batch changed: the merges it made and snapshots of the users whose version rose."""

    merges: list[UserMerge] = field(default_factory=list)
    snapshots: list[UserSnapshot] = field(default_factory=list)


def _lock_key(env_id: str, user_id: str) -> int:
    return int(hash53(env_id, "lock", user_id))


def _lock_owners(conn: Connection, facts: Facts, ids: list[str]) -> dict[str, tuple[str, str | None]]:
    """Lock the owners of `ids` (and every identified user named) until stable; id → (owner, identity)."""
    locked: set[str] = set()
    while True:
        rows = {r.user_id: (r.owner_id, r.identity) for r in conn.execute(_RESOLVE, {"env": facts.env_id, "ids": ids})}
        needed = ({owner for owner, _ in rows.values()} | set(facts.identities)) - locked
        if not needed:
            return rows
        keys = [_lock_key(facts.env_id, owner) for owner in needed]
        conn.execute(_LOCK, {"keys": keys})
        locked |= needed


def apply(conn: Connection, facts: Facts) -> Outcome:
    """Join `facts` into the tables inside the caller's transaction; return merges and new snapshots."""
    env = facts.env_id
    ids = sorted(facts.user_ids())
    if not ids:
        _insert_warnings(conn, env, list(facts.warnings.values()))
        return Outcome()
    created = set(conn.scalars(_INSERT_USERS, {
        "env": env, "ids": ids, "identities": [facts.identities.get(i) for i in ids]}))
    rows = _lock_owners(conn, facts, ids)
    owner = {user_id: o for user_id, (o, _) in rows.items()}
    identified = {user_id for user_id, (_, identity) in rows.items() if identity is not None}
    touched: set[str] = set(created)  # ids whose own facts or owner changed
    dirty_owners: set[str] = set()  # owners that lost or gained a member

    # An id first seen anonymously and later learnt to be an identified user owns itself.
    late = sorted(i for i in facts.identities if i not in identified)
    if late:
        conn.execute(_SET_IDENTITY, {"env": env, "ids": late, "identities": [facts.identities[i] for i in late]})
        for user_id in late:
            dirty_owners.add(owner[user_id])
            owner[user_id] = user_id
            identified.add(user_id)
        touched |= set(late)

    if facts.seen:
        seen_ids = sorted(facts.seen)
        seen = [facts.seen[i] for i in seen_ids]
        touched |= set(conn.scalars(_SEEN, {
            "env": env, "ids": seen_ids, "firsts": [s.first_seen for s in seen],
            "events": [s.first_event for s in seen], "initials": [_json(s.initial) for s in seen],
            "lasts": [s.last_seen for s in seen]}))

    if facts.devices:
        keys = sorted(facts.devices)
        conn.execute(_DEVICES, {
            "env": env, "ids": [u for u, _ in keys], "devices": [d for _, d in keys],
            "firsts": [facts.devices[k][0] for k in keys], "lasts": [facts.devices[k][1] for k in keys]})

    outcome = Outcome()
    if facts.claims:
        outcome.merges = _link(conn, facts, owner, identified, touched, dirty_owners)

    if facts.properties:
        keys = sorted(facts.properties)
        writes = [facts.properties[k] for k in keys]
        touched |= set(conn.scalars(_PROPERTIES, {
            "env": env, "ids": [u for u, _ in keys], "keys": [k for _, k in keys],
            "values": [_json(w.value) for w in writes], "times": [w.set_at for w in writes],
            "bys": [w.set_by for w in writes], "firsts": [w.first_set for w in writes]}))

    changed = sorted({owner[i] for i in touched} | dirty_owners)
    if changed:
        conn.execute(_RECOMPUTE, {"env": env, "owners": changed})
        conn.execute(_BUMP, {"env": env, "owners": changed})
        snapshots, dropped = load_users(conn, env, changed)
        outcome.snapshots = list(snapshots.values())
        now = datetime.now(UTC)
        bound_warnings = [bounds_warning(u, keys, now) for u, keys in dropped.items()]
    else:
        bound_warnings = []
    _insert_warnings(conn, env, list(facts.warnings.values()) + bound_warnings)
    return outcome


def _link(conn, facts: Facts, owner: dict, identified: set, touched: set, dirty_owners: set) -> list[UserMerge]:
    """Record claims; move every id whose winning claim changed to its identity's user."""
    env = facts.env_id
    ids = sorted(facts.claims)
    claims = [facts.claims[i] for i in ids]
    won = conn.execute(_LINKS, {
        "env": env, "ids": ids, "identities": [c.identity for c in claims],
        "times": [c.claimed_at for c in claims], "claim_ids": [c.claim_id for c in claims]}).all()
    moves = []
    for user_id, identity, claimed_at in sorted(won):
        target = identified_user_id(env, identity)
        if user_id in identified or owner[user_id] == target:
            continue  # identified users never move; an earlier claim of the same identity moves nothing
        moves.append((user_id, owner[user_id], target, identity, claimed_at))
    if not moves:
        return []
    params = {"env": env, "ids": [m[0] for m in moves], "owners": [m[2] for m in moves],
              "identities": [m[3] for m in moves], "times": [m[4] for m in moves]}
    conn.execute(_MOVE, params)
    conn.execute(_MERGE_LOG, params)
    device_ids = defaultdict(list)
    for user_id, device_id in conn.execute(
        select(devices.c.user_id, devices.c.device_id)
        .where(devices.c.env_id == env, devices.c.user_id.in_(params["ids"]))
        .order_by(devices.c.device_id)
    ):
        device_ids[user_id].append(device_id)
    merges = []
    for user_id, old_owner, target, identity, claimed_at in moves:
        owner[user_id] = target
        touched.add(user_id)
        if old_owner != user_id:
            dirty_owners.add(old_owner)  # a relink: the previous identity's user loses this id
        merges.append(UserMerge(from_user_id=user_id, into_user_id=target, identity=identity,
                                device_ids=device_ids[user_id], at=claimed_at))
    return merges


def _insert_warnings(conn: Connection, env: str, items: list[Warning]) -> None:
    if items:
        items = sorted(items, key=lambda w: w.key)
        conn.execute(_WARNINGS, {
            "env": env, "keys": [w.key for w in items], "kinds": [w.kind for w in items],
            "messages": [w.message for w in items], "subjects": [w.subject for w in items],
            "details": [_json(w.details) for w in items], "times": [w.occurred_at for w in items]})


# --- Reading -----------------------------------------------------------------------------------------


def load_users(conn: Connection, env: str, owner_ids: list[str]) -> tuple[dict[str, UserSnapshot], dict[str, list[str]]]:
    """Snapshots of surviving users by id, and per user the property keys the bounds dropped."""
    writes: dict[str, dict[str, PropertyWrite]] = defaultdict(dict)
    for row in conn.execute(_OWNER_PROPERTIES, {"env": env, "owners": owner_ids}):
        writes[row.owner_id][row.key] = PropertyWrite(row.value, row.set_at, row.set_by, row.first_set_at)
    snapshots, dropped = {}, {}
    for row in conn.execute(_OWNERS, {"env": env, "owners": owner_ids}):
        properties, lost = user_properties(writes.get(row.user_id, {}), row.initial)
        if lost:
            dropped[row.user_id] = lost
        snapshots[row.user_id] = UserSnapshot(
            user_id=row.user_id, identity=row.identity, properties=properties,
            first_seen=row.first_seen, last_seen=row.last_seen, version=row.version)
    return snapshots, dropped


def owner_of(conn: Connection, env: str, user_id: str) -> str | None:
    """The surviving user an id belongs to (itself when not merged), or None when unknown."""
    return conn.scalar(select(users.c.owner_id).where(users.c.env_id == env, users.c.user_id == user_id))


def member_ids(conn: Connection, env: str, owner_id: str) -> list[str]:
    return list(conn.scalars(
        select(users.c.user_id).where(users.c.env_id == env, users.c.owner_id == owner_id).order_by(users.c.user_id)))


def user_devices(conn: Connection, env: str, owner_id: str) -> list[dict]:
    """Every device seen under any id the user owns, one row per device."""
    members = select(users.c.user_id).where(users.c.env_id == env, users.c.owner_id == owner_id)
    rows = conn.execute(
        select(devices.c.device_id, devices.c.user_id, devices.c.first_seen, devices.c.last_seen)
        .where(devices.c.env_id == env, devices.c.user_id.in_(members))
        .order_by(devices.c.device_id, devices.c.first_seen)
    )
    by_device: dict[str, dict] = {}
    for row in rows:
        entry = by_device.setdefault(row.device_id, {
            "device_id": row.device_id, "user_ids": [], "first_seen": row.first_seen, "last_seen": row.last_seen})
        entry["user_ids"].append(row.user_id)
        entry["first_seen"] = min(entry["first_seen"], row.first_seen)
        entry["last_seen"] = max(entry["last_seen"], row.last_seen)
    return list(by_device.values())


def list_warnings(conn: Connection, env: str, limit: int, before_id: int | None = None) -> list[dict]:
    """Ingestion warnings, newest first (keyset by id)."""
    query = select(warnings).where(warnings.c.env_id == env)
    if before_id is not None:
        query = query.where(warnings.c.id < before_id)
    rows = conn.execute(query.order_by(warnings.c.id.desc()).limit(limit)).mappings()
    return [{k: v for k, v in row.items() if k != "env_id"} for row in rows]


# --- Outbox -------------------------------------------------------------------------------------------


def enqueue(conn: Connection, routing_key: str, message_id: str, body: bytes) -> None:
    conn.execute(outbox.insert().values(routing_key=routing_key, message_id=message_id, body=body))


def flush_outbox(engine: Engine, publish, limit: int = 500) -> int:
    """Publish pending outbox rows (oldest first) and delete them; `publish(routing_key, body, id)`."""
    sent = 0
    while True:
        with engine.begin() as conn:
            rows = conn.execute(
                select(outbox.c.id, outbox.c.routing_key, outbox.c.body, outbox.c.message_id)
                .order_by(outbox.c.id).limit(limit).with_for_update(skip_locked=True)
            ).all()
            for row in rows:
                publish(row.routing_key, bytes(row.body), row.message_id)
            if rows:
                conn.execute(delete(outbox).where(outbox.c.id.in_([r.id for r in rows])))
        sent += len(rows)
        if len(rows) < limit:
            return sent
