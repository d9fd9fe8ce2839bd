"""The sessions schema (SQLAlchemy Core) and its write paths: events, re-cut sessions, merges, facts.

The events path is set-based so a batch of ~20k events costs a handful of statements: the raw
`event.captured` bodies are COPYed into a temp table, exploded in SQL and deduplicated against the
stored events; then, per stream they touch, the nearby stored sessions (as intervals) and the new
events are merged with window functions — the algorithm of `sessionize.Sessionizer`, whose
timeouts, id function and session properties this module turns into SQL. Stored events are only
rewritten when their session merges into an earlier one.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable

import orjson
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    DateTime,
    Integer,
    MetaData,
    Table,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import IntegrityError

from footfall.messages import ReplayRecording, UserMerge, UserSnapshot
from services.sessions.sessionize import PROPERTY_PATHS, SOURCE_LABELS, TIMEOUTS

log = logging.getLogger(__name__)

SCHEMA = "sessions"
metadata = MetaData()
TZ = DateTime(timezone=True)

events = Table(
    "events", metadata,
    Column("env_id", Text, primary_key=True), Column("event_id", Text, primary_key=True),
    Column("kind", Text), Column("name", Text), Column("page_path", Text),
    Column("page_domain", Text), Column("target_text", Text), Column("hierarchy", JSONB),
    Column("properties", JSONB), Column("time", TZ), Column("received_at", TZ),
    Column("user_id", Text), Column("anon_user_id", Text), Column("device_id", Text),
    Column("identity", Text), Column("source", Text), Column("client_session_id", Text),
    Column("session_id", Text), Column("data", JSONB),
)
sessions = Table(
    "sessions", metadata,
    Column("env_id", Text, primary_key=True), Column("session_id", Text, primary_key=True),
    Column("user_id", Text), Column("anon_user_id", Text), Column("source", Text),
    Column("client", Boolean), Column("start", TZ), Column("end", TZ),
    Column("event_count", Integer), Column("first_event_id", Text), Column("props", JSONB),
    Column("has_replay", Boolean),
)
users = Table(
    "users", metadata,
    Column("env_id", Text, primary_key=True), Column("user_id", Text, primary_key=True),
    Column("identity", Text), Column("properties", JSONB), Column("version", BigInteger),
    Column("first_seen", TZ), Column("last_seen", TZ), Column("session_count", Integer),
)
merges = Table(
    "merges", metadata,
    Column("env_id", Text, primary_key=True), Column("from_user_id", Text, primary_key=True),
    Column("into_user_id", Text),  # the final survivor (path-compressed): one lookup per event
    Column("at", TZ), Column("direct_into_user_id", Text),  # the chosen merge: earliest (at, into)
)

# Advisory locks: event batches share MERGE_LOCK and take one lock per bucket of streams they
# touch, so parallel consumers never re-cut the same stream at once; a merge takes MERGE_LOCK
# exclusively so no batch stores events of a user while it is being re-attributed.
MERGE_LOCK = 4_040_000
BUCKETS = 64


def _timeouts_sql() -> str:
    rows = ", ".join(f"('{source}', interval '{int(t.total_seconds())} seconds')"
                     for source, t in TIMEOUTS.items())
    return f"(values {rows}) as t(source, timeout)"


def _props_sql(row: str) -> str:
    """sessionize.session_properties as a jsonb_build_object over a stored event row."""
    labels = " ".join(f"when '{k}' then '{v}'" for k, v in SOURCE_LABELS.items())
    parts = [f"'source', case {row}.source {labels} else {row}.source end"]
    parts += [f"'{name}', {row}.data #>> '{{{outer},{inner}}}'"
              for name, (outer, inner) in PROPERTY_PATHS.items()]
    return f"jsonb_build_object({', '.join(parts)})"


# A client session never times out: all its events are one interval.
NO_TIMEOUT = "interval '1000 years'"

# The batch's work tables live as long as the connection and are emptied at each commit:
# creating and dropping five tables per batch (catalog rows, files) cost ~10 ms, which dominated
# the small batches of a lightly loaded consumer. `fresh` takes the columns in the order step 2
# selects them.
OWNERS_TABLE = ('create temp table if not exists owners (env_id text collate "C", user_id text collate "C") '
                "on commit delete rows")
WORK_TABLES = [
    # Bodies are read once: compressing them on the way in (TOAST's default) costs a third of COPY.
    "create temp table if not exists stage_msgs (body jsonb) on commit delete rows",
    "alter table stage_msgs alter body set storage external",
    """
    create temp table if not exists fresh (
        env_id text collate "C", event_id text collate "C", kind text, name text, page_path text,
        page_domain text, target_text text, hierarchy jsonb, properties jsonb, time timestamptz,
        received_at timestamptz, anon_user_id text collate "C", device_id text, identity text,
        source text, client_session_id text collate "C", data jsonb, user_id text collate "C",
        skey text collate "C", timeout interval
    ) on commit delete rows
    """,
    """
    create temp table if not exists comp (
        env_id text collate "C", first_event_id text collate "C", old_id text collate "C",
        new_id text collate "C", first_id text collate "C", first_old_id text collate "C",
        client_session_id text collate "C", start timestamptz, "end" timestamptz, n integer
    ) on commit delete rows
    """,
    OWNERS_TABLE,
]

# Two phases, so parallel consumers overlap their work: staging (parse, explode, within-batch
# dedupe, owner lookup) needs only the shared merge lock; the rest holds the locks of the
# streams it touches, so batches touching the same streams run it one at a time.
STAGE_STEPS = [
    # Sorts and hashes of a 20k-event batch stay in memory.
    "set local work_mem = '64MB'",
    # 1. No merge re-attributes users while this batch reads the merge map and stores events.
    f"select pg_advisory_xact_lock_shared({MERGE_LOCK})",
    # 2. The batch's events, once each, with their owner (the merge map is path-compressed).
    f"""
    insert into fresh
    select distinct on (x.env_id, x.event_id) x.*, coalesce(m.into_user_id, x.anon_user_id) as user_id,
           case when x.client_session_id is null then x.anon_user_id || chr(31) || x.source
                else chr(30) || x.client_session_id end as skey,
           case when x.client_session_id is null then t.timeout else {NO_TIMEOUT} end as timeout
    from (
        select e->>'env_id' collate "C" as env_id, e->>'event_id' collate "C" as event_id, e->>'kind' as kind,
               e->>'name' as name, e#>>'{{page,path}}' as page_path,
               e#>>'{{page,domain}}' as page_domain, e#>>'{{target,text}}' as target_text,
               coalesce(e#>'{{target,hierarchy}}', '[]') as hierarchy,
               coalesce(e->'properties', '{{}}') as properties,
               (e->>'time')::timestamptz as time, (e->>'received_at')::timestamptz as received_at,
               e->>'user_id' collate "C" as anon_user_id, e->>'device_id' as device_id,
               e->>'identity' as identity, e->>'source' as source,
               nullif(e->>'session_id', '') collate "C" as client_session_id, e as data
        from stage_msgs, jsonb_array_elements(body->'events') as e
    ) x
    join {_timeouts_sql()} on t.source = x.source
    left join merges m on m.env_id = x.env_id and m.from_user_id = x.anon_user_id
    order by x.env_id, x.event_id
    """,
]

INSERT_EVENTS = """
    insert into events (env_id, event_id, kind, name, page_path, page_domain, target_text, hierarchy,
                        properties, time, received_at, user_id, anon_user_id, device_id, identity,
                        source, client_session_id, session_id, data)
    select f.env_id, f.event_id, f.kind, f.name, f.page_path, f.page_domain, f.target_text,
           f.hierarchy, f.properties, f.time, f.received_at, f.user_id, f.anon_user_id, f.device_id,
           f.identity, f.source, f.client_session_id, c.new_id, f.data
    from fresh f join comp c on c.env_id = f.env_id and c.first_event_id = f.event_id and c.old_id is null
"""

# Step 7 goes by the list of renamed sessions, read first: joined to `comp`, whose
# `old_id <> new_id` the planner cannot estimate, the update of `events` once became a sort of the
# whole table (2 s a batch) where there was nothing to rename.
RENAMED = """
    select distinct env_id, old_id, new_id from comp where old_id is not null and old_id <> new_id
"""
_RENAMES = """unnest(cast(:env_ids as text[]), cast(:old_ids as text[]), cast(:new_ids as text[]))
    as r(env_id, old_id, new_id)"""
RENAME_EVENTS = f"""
    update events e set session_id = r.new_id from {_RENAMES}
    where e.env_id = r.env_id collate "C" and e.session_id = r.old_id collate "C"
"""
DELETE_RENAMED = f"""
    delete from sessions s using {_RENAMES}
    where s.env_id = r.env_id collate "C" and s.session_id = r.old_id collate "C"
"""

LOCKED_STEPS = [
    # 3. Serialise with other consumers touching the same anonymous users (locks in one order).
    f"""
    select pg_advisory_xact_lock({MERGE_LOCK} + 1 + b) from (
        select distinct abs(hashtext(env_id || anon_user_id)) % {BUCKETS} as b from fresh order by 1) s
    """,
    # 4. Only the events never stored go on (an index probe each; nothing is written usually).
    "delete from fresh f using events v where v.env_id = f.env_id and v.event_id = f.event_id",
    # 5. Intervals to merge per stream (iv): each stored session within one timeout of the new
    #    events (its events are not re-read: start, end and first event suffice), and each new event.
    # 6. Merge: sorted by (start, first event), a gap above the timeout from the furthest end so far
    #    starts a session, named by its first event (or by the client's id).
    f"""
    insert into comp (env_id, first_event_id, old_id, new_id, first_id, first_old_id, client_session_id,
                      start, "end", n)
    with iv as (
    select s.env_id, w.skey, w.timeout, s.start, s."end", s.first_event_id, s.session_id as old_id,
           s.event_count as n, s.anon_user_id, null::text as client_session_id
    from (select env_id, anon_user_id, source, skey, timeout, min(time) as tmin, max(time) as tmax
          from fresh where client_session_id is null
          group by env_id, anon_user_id, source, skey, timeout) w
    join sessions s on s.env_id = w.env_id and s.anon_user_id = w.anon_user_id
     and s.source = w.source and not s.client
     and s.start <= w.tmax + w.timeout and s."end" >= w.tmin - w.timeout
    union all
    select s.env_id, chr(30) || s.session_id, {NO_TIMEOUT}, s.start, s."end", s.first_event_id,
           s.session_id, s.event_count, s.anon_user_id, s.session_id
    from (select distinct env_id, client_session_id from fresh where client_session_id is not null) c
    join sessions s on s.env_id = c.env_id and s.session_id = c.client_session_id and s.client
    union all
    select env_id, skey, timeout, time, time, event_id, null, 1, anon_user_id, client_session_id
    from fresh
    ), ordered as (
        select *, max("end") over (partition by env_id, skey order by start, first_event_id
                                   rows between unbounded preceding and 1 preceding) as reach
        from iv
    ), grouped as (
        select *, sum(case when start - reach > timeout then 1 else 0 end) over (
                      partition by env_id, skey order by start, first_event_id
                      rows unbounded preceding) as g
        from ordered
    )
    select env_id, first_event_id, old_id,
           coalesce(client_session_id,
                    session_key(env_id, anon_user_id, first_value(first_event_id) over c)) as new_id,
           first_value(first_event_id) over c as first_id, first_value(old_id) over c as first_old_id,
           client_session_id, start, "end", n
    from grouped window c as (partition by env_id, skey, g order by start, first_event_id)
    """,
]

# 7. The new events, then the stored sessions merged into another one (RENAMED, usually none):
#    their events take its id.
# 8. The sessions: new, extended, merged; and the merged-away ones gone.
UPSERT_SESSIONS = f"""
    insert into sessions (env_id, session_id, user_id, anon_user_id, source, client, start, "end",
                          event_count, first_event_id, props, has_replay)
    select m.env_id, m.new_id, coalesce(o.user_id, f.user_id), coalesce(o.anon_user_id, f.anon_user_id),
           coalesce(o.source, f.source), m.client, m.start, m.end, m.n, m.first_id,
           coalesce(o.props, {_props_sql("f")}),
           exists (select 1 from replays r where r.env_id = m.env_id and r.session_id = m.new_id)
    from (select env_id, new_id, min(first_id) as first_id, min(first_old_id) as first_old_id,
                 bool_or(client_session_id is not null) as client, min(start) as start,
                 max("end") as end, sum(n) as n
          from comp group by env_id, new_id) m
    left join sessions o on o.env_id = m.env_id and o.session_id = m.first_old_id
    left join fresh f on f.env_id = m.env_id and f.event_id = m.first_id and m.first_old_id is null
    on conflict (env_id, session_id) do update set
        user_id = excluded.user_id, anon_user_id = excluded.anon_user_id, source = excluded.source,
        client = excluded.client, start = excluded.start, "end" = excluded."end",
        event_count = excluded.event_count, first_event_id = excluded.first_event_id,
        props = excluded.props, has_replay = excluded.has_replay
"""

# 9. The feed rows of the owners.
FILL_OWNERS = "insert into owners select distinct env_id, user_id from fresh"

REFRESH_USERS = """
    insert into users (env_id, user_id, first_seen, last_seen, session_count)
    select s.env_id, s.user_id, min(s.start), max(s."end"), count(*)
    from owners o join sessions s on s.env_id = o.env_id and s.user_id = o.user_id
    group by s.env_id, s.user_id
    on conflict (env_id, user_id) do update set first_seen = excluded.first_seen,
        last_seen = excluded.last_seen, session_count = excluded.session_count
"""


def _work_tables(conn: Connection) -> None:
    """The connection's work tables, created by its first batch (all or none of them)."""
    # psycopg prepares a statement run 5 times; a prepared plan would outlive the work tables'
    # sizes (planned for 100 rows, run on 20,000), so the batch statements are planned each time.
    conn.connection.driver_connection.prepare_threshold = None
    if conn.execute(text("select to_regclass('pg_temp.comp')")).scalar() is None:
        for statement in WORK_TABLES:
            conn.execute(text(statement))


def _copy_bodies(conn: Connection, bodies: Iterable[bytes]) -> None:
    """COPY raw JSON message bodies into a temp table (text format: backslashes doubled)."""
    cursor = conn.connection.driver_connection.cursor()
    with cursor.copy("copy stage_msgs (body) from stdin") as copy:
        copy.write(b"".join(body.replace(b"\\", b"\\\\") + b"\n" for body in bodies))


def _insert_events(conn: Connection) -> int:
    """Insert the new events (returns how many); a plain insert, as step 4 left only events never stored.

    `on conflict do nothing` would cost a speculative insertion per event (a fifth more). Only an
    event id sent again under another user can still collide (another batch, holding the other
    user's lock, may be storing it): then the insert is redone under a savepoint, skipping it.
    """
    try:
        with conn.begin_nested():
            return conn.execute(text(INSERT_EVENTS)).rowcount
    except IntegrityError:
        return conn.execute(text(INSERT_EVENTS + " on conflict do nothing")).rowcount


def store_events(conn: Connection, bodies: list[bytes]) -> int:
    """Store the events of `event.captured` bodies and re-cut their sessions; returns events added.

    Runs inside the caller's transaction; the bodies must already be validated (consumer.decode).
    """
    _work_tables(conn)
    _copy_bodies(conn, bodies)
    for step in STAGE_STEPS + LOCKED_STEPS:
        conn.execute(text(step))
    added = _insert_events(conn)
    renamed = conn.execute(text(RENAMED)).all()
    if renamed:
        env_ids, old_ids, new_ids = map(list, zip(*renamed))
        renames = {"env_ids": env_ids, "old_ids": old_ids, "new_ids": new_ids}
        conn.execute(text(RENAME_EVENTS), renames)
    conn.execute(text(UPSERT_SESSIONS))
    if renamed:
        conn.execute(text(DELETE_RENAMED), renames)
    conn.execute(text(FILL_OWNERS))
    conn.execute(text(REFRESH_USERS))
    return added


# --- facts -----------------------------------------------------------------------------------


def resolve(conn: Connection, env_id: str, user_id: str) -> str:
    """The surviving user of `user_id` (itself when never merged away)."""
    into = conn.execute(text("select into_user_id from merges where env_id = :e and from_user_id = :u"),
                        {"e": env_id, "u": user_id}).scalar()
    return into or user_id


def _refresh_users(conn: Connection, env_id: str, user_ids: list[str]) -> None:
    """Recompute feed rows from sessions; a user left with none drops out of the feed."""
    conn.execute(text(OWNERS_TABLE))
    conn.execute(text("insert into owners select :e, unnest(cast(:u as text[]))"), {"e": env_id, "u": user_ids})
    conn.execute(text(REFRESH_USERS))
    conn.execute(text("""
        update users u set first_seen = null, last_seen = null, session_count = 0
        where u.env_id = :e and u.user_id = any(:u)
          and not exists (select 1 from sessions s where s.env_id = u.env_id and s.user_id = u.user_id)
    """), {"e": env_id, "u": user_ids})
    conn.execute(text("delete from owners"))  # several merges per transaction


# The users whose chain of chosen merges passes through :f (itself included).
BEHIND = """
    with recursive behind(user_id) as (
        select cast(:f as text) collate "C"
        union
        select m.from_user_id from merges m join behind b
            on m.env_id = :e and m.direct_into_user_id = b.user_id
    ) select user_id from behind
"""


def apply_merges(conn: Connection, env_id: str, items: list[UserMerge]) -> None:
    """Re-attribute merged-away users' events, sessions and feed rows to their survivors.

    Idempotent and order-independent: per user, the merge with the earliest (at, into_user_id)
    wins (identity may re-send a user's merge with another target when an identify arrives late),
    whatever order they arrive in. The map keeps that chosen edge and the final survivor, so a
    chain A→B, B→C lands on C in any order, and events stored later find their owner in one lookup.
    A merge that would close a cycle is ignored.
    """
    conn.execute(text(f"select pg_advisory_xact_lock({MERGE_LOCK})"))
    for item in items:
        _apply_merge(conn, env_id, item)


def _apply_merge(conn: Connection, env_id: str, item: UserMerge) -> None:
    source, target = item.from_user_id, item.into_user_id
    params = {"e": env_id, "f": source, "i": target, "at": item.at}
    current = conn.execute(text("select direct_into_user_id, at, into_user_id from merges "
                                "where env_id = :e and from_user_id = :f"), params).first()
    if current is not None and (current.at, current.direct_into_user_id) <= (item.at, target):
        return  # a redelivery, or a later merge of this user: the earliest one stands
    behind = list(conn.execute(text(BEHIND), params).scalars())
    if target in behind:  # the target's chain leads back through the merged user
        log.warning("ignoring merge %s -> %s: it would close a cycle", source, target)
        return
    root, old_root = resolve(conn, env_id, target), resolve(conn, env_id, source)
    conn.execute(text("""
        insert into merges (env_id, from_user_id, into_user_id, at, direct_into_user_id)
        values (:e, :f, :r, :at, :i)
        on conflict (env_id, from_user_id) do update set at = excluded.at,
            direct_into_user_id = excluded.direct_into_user_id
    """), {**params, "r": root})
    if old_root == root:
        return
    moved = {**params, "old": old_root, "r": root, "behind": behind}
    conn.execute(text("update merges set into_user_id = :r "
                      "where env_id = :e and from_user_id = any(:behind)"), moved)
    # Events and sessions belong to the survivor of their anonymous user.
    for table in ("events", "sessions"):
        conn.execute(text(f"update {table} set user_id = :r where env_id = :e and user_id = :old "
                          "and anon_user_id = any(:behind)"), moved)
    conn.execute(text("delete from users where env_id = :e and user_id = :f"), params)
    _refresh_users(conn, env_id, [root] if old_root == source else [root, old_root])


def apply_snapshots(conn: Connection, env_id: str, snapshots: list[UserSnapshot]) -> None:
    """Keep each user's highest-version snapshot; snapshots of merged-away users are dropped."""
    latest: dict[str, UserSnapshot] = {}
    for snap in snapshots:
        if snap.user_id not in latest or snap.version > latest[snap.user_id].version:
            latest[snap.user_id] = snap
    merged = set(conn.execute(
        text("select from_user_id from merges where env_id = :e and from_user_id = any(:ids)"),
        {"e": env_id, "ids": list(latest)}).scalars())
    rows = [{"e": env_id, "u": s.user_id, "i": s.identity, "p": orjson.dumps(s.properties).decode(),
             "v": s.version}
            for s in latest.values() if s.user_id not in merged]
    if not rows:
        return
    conn.execute(text("""
        insert into users (env_id, user_id, identity, properties, version)
        values (:e, :u, :i, cast(:p as jsonb), :v)
        on conflict (env_id, user_id) do update set identity = excluded.identity,
            properties = excluded.properties, version = excluded.version
        where users.version < excluded.version
    """), rows)


def apply_replays(conn: Connection, env_id: str, replays: list[ReplayRecording]) -> None:
    """Mark sessions as replayable; remembered for sessions not stored yet."""
    ids = sorted({r.session_id for r in replays})
    conn.execute(text("insert into replays select :e, unnest(cast(:ids as text[])) on conflict do nothing"),
                 {"e": env_id, "ids": ids})
    conn.execute(text("update sessions set has_replay = true where env_id = :e and session_id = any(:ids)"),
                 {"e": env_id, "ids": ids})

