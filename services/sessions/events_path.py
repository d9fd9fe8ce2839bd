"""The events path: a batch of `event.captured` bodies stored and cut into sessions, as named steps
in the order they run (`store_events`).

It is set-based, so a batch of ~20k events costs a handful of statements: the raw bodies are
COPYed into a temp table and exploded in SQL; then, per stream they touch (anonymous user id and
source, or a client's session id), the nearby stored sessions (as intervals) and the new events
are merged with window functions: the algorithm of `sessionize.Sessionizer`, whose timeouts, id
function and session properties this module turns into SQL. Stored events are only rewritten when
their session merges into an earlier one, never for a user merge. Last, the activity of each
anonymous user id (`anon_users`) and of its owner's feed row (`users`) moves by what the batch
changed, without reading their history.

Concurrency: everything after staging holds the advisory locks of the batch's anonymous user ids
(`locks.py`); merges take the same locks for the ids whose owner they change, so an owner read
here stays the owner until the commit.
"""
from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, text
from sqlalchemy.exc import IntegrityError

from services.sessions import catalog
from services.sessions.locks import lock_buckets_sql
from services.sessions.sessionize import PROPERTY_PATHS, SOURCE_LABELS, TIMEOUTS


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
# creating and dropping them per batch (catalog rows, files) dominated the small batches of a
# lightly loaded consumer. `fresh` takes the columns in the order STAGE selects them.
WORK_TABLES = [
    # Bodies are read once: compressing them on the way in (TOAST's default) costs a third of COPY.
    "create temp table if not exists stage_msgs (body jsonb) on commit delete rows",
    "alter table stage_msgs alter body set storage external",
    """
    create temp table if not exists fresh (
        env_id text collate "C", event_id text collate "C", kind text, name text, page_path text,
        page_domain text, target_text text, hierarchy jsonb, properties jsonb, time timestamptz,
        received_at timestamptz, anon_user_id text collate "C", device_id text, identity text,
        source text, client_session_id text collate "C", data jsonb,
        skey text collate "C", timeout interval
    ) on commit delete rows
    """,
    """
    create temp table if not exists comp (
        env_id text collate "C", anon_user_id text collate "C", first_event_id text collate "C",
        old_id text collate "C", new_id text collate "C", first_id text collate "C",
        first_old_id text collate "C", client_session_id text collate "C", start timestamptz,
        "end" timestamptz, n integer
    ) on commit delete rows
    """,
]

# 1. Staging, outside any lock (parallel consumers overlap it): the batch's events. Not sorted:
#    sorting the wide rows (each carries its whole body) to drop the batch's own duplicates cost a
#    third of the step; UNIQUE drops those afterwards by their narrow key.
STAGE = f"""
    insert into fresh
    select x.*,
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
"""

# 1b. An event sent twice within the batch stays once (which copy does not matter: an event id
#     names one event). A hash over the narrow key; nothing is deleted usually.
UNIQUE = """
    delete from fresh f using (
        select env_id, event_id, min(ctid) as kept from fresh group by env_id, event_id having count(*) > 1
    ) d
    where f.env_id = d.env_id and f.event_id = d.event_id and f.ctid <> d.kept
"""

# 2. The locks of the batch's anonymous user ids (taken in one order by every writer).
LOCK = lock_buckets_sql("select distinct env_id, anon_user_id from fresh")

# 3. Only events never stored go on (an index probe each; nothing is deleted usually).
DEDUPE = "delete from fresh f using events v where v.env_id = f.env_id and v.event_id = f.event_id"

# 3b. Events of deleted users dated up to their deletion go no further (tombstones, deletion.py):
#     read after LOCK, so a deletion of these ids has committed before, or waits for this batch.
#     Only run for environments with tombstones (ENVS_WITH_TOMBSTONES), as two hash joins.
ENVS_WITH_TOMBSTONES = """
    select distinct env_id from tombstones where env_id = any(cast(:envs as text[]))
"""
DROP_DELETED = """
    delete from fresh f using tombstones t
    where t.env_id = f.env_id and t.key = 'u:' || f.anon_user_id and f.time <= t.cutoff
"""
DROP_DELETED_IDENTITIES = """
    delete from fresh f using tombstones t
    where f.identity is not null and t.env_id = f.env_id and f.time <= t.cutoff
      and t.key = 'i:' || encode(sha256(convert_to(f.env_id || chr(31) || f.identity, 'UTF8')), 'hex')
"""

# 4. Intervals to merge per stream (iv): each stored session within one timeout of the new events
#    (its events are not re-read: start, end and first event suffice), and each new event. Sorted by
#    (start, first event), a gap above the timeout from the furthest end so far starts a session,
#    named by its first event (or by the client's id).
CUT = f"""
    insert into comp (env_id, anon_user_id, first_event_id, old_id, new_id, first_id, first_old_id,
                      client_session_id, start, "end", n)
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
    cross join lateral (
        -- by key, one probe per client session: as a plain join the planner hashed all of
        -- `sessions` (a scan of the whole table per batch) when it expected many client ids
        select * from sessions s where s.env_id = c.env_id and s.session_id = c.client_session_id
        and s.client offset 0
    ) s
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
                      rows unbounded preceding) as g,
               reach is null or start - reach > timeout as opens
        from ordered
    )
    select env_id, anon_user_id, first_event_id, old_id,
           -- the key is hashed once per session, on the row that opens it (md5 per row was a
           -- fifth of the step); the whole-partition window hands it to the session's other rows
           coalesce(client_session_id,
                    max(case when opens and client_session_id is null
                             then session_key(env_id, anon_user_id, first_event_id) end)
                        over (partition by env_id, skey, g)) as new_id,
           first_value(first_event_id) over c as first_id, first_value(old_id) over c as first_old_id,
           client_session_id, start, "end", n
    from grouped window c as (partition by env_id, skey, g order by start, first_event_id)
"""

# 5. The new events.
INSERT_EVENTS = """
    insert into events (env_id, event_id, kind, name, page_path, page_domain, target_text, hierarchy,
                        properties, time, received_at, anon_user_id, device_id, identity,
                        source, client_session_id, session_id, data)
    select f.env_id, f.event_id, f.kind, f.name, f.page_path, f.page_domain, f.target_text,
           f.hierarchy, f.properties, f.time, f.received_at, f.anon_user_id, f.device_id,
           f.identity, f.source, f.client_session_id, c.new_id, f.data
    from fresh f join comp c on c.env_id = f.env_id and c.first_event_id = f.event_id and c.old_id is null
"""

# 6. Stored sessions merged into another one (usually none): their events take its id. Read first:
#    joined to `comp`, whose `old_id <> new_id` the planner cannot estimate, the update of
#    `events` once became a sort of the whole table where there was nothing to rename.
RENAMED = "select distinct env_id, old_id, new_id from comp where old_id is not null and old_id <> new_id"
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

# 7. The sessions (new, extended, merged), and 8. what they changed, rolled up: per anonymous user
#    id, sessions after minus sessions before, and the span; per owner (read through the merge map
#    under the locks of step 2) the same moves of its feed row. first_seen only falls and last_seen
#    only rises as sessions grow, so LEAST/GREATEST/+ give what a recount would.
UPSERT_SESSIONS_AND_ROLL_UP = f"""
    with firsts as materialized (
        -- the new events that open a session: only these give a session its properties (joined
        -- to all of `fresh` instead, the planner sorted every wide row of the batch for ~5% of them)
        select f.env_id, f.event_id, f.anon_user_id, f.source, {_props_sql("f")} as props
        from comp c join fresh f on f.env_id = c.env_id and f.event_id = c.first_event_id
        where c.old_id is null and c.first_old_id is null and c.first_id = c.first_event_id
    ), up as (
        insert into sessions (env_id, session_id, anon_user_id, source, client, start, "end",
                              event_count, first_event_id, props, has_replay)
        select m.env_id, m.new_id, coalesce(o.anon_user_id, f.anon_user_id),
               coalesce(o.source, f.source), m.client, m.start, m.end, m.n, m.first_id,
               coalesce(o.props, f.props),
               exists (select 1 from replays r where r.env_id = m.env_id and r.session_id = m.new_id)
        from (select env_id, new_id, min(first_id) as first_id, min(first_old_id) as first_old_id,
                     bool_or(client_session_id is not null) as client, min(start) as start,
                     max("end") as end, sum(n) as n
              from comp group by env_id, new_id) m
        -- by key, one probe per session (and per owner below): hashed, they read the whole table
        left join lateral (
            select * from sessions o where o.env_id = m.env_id and o.session_id = m.first_old_id offset 0
        ) o on true
        left join firsts f on f.env_id = m.env_id and f.event_id = m.first_id and m.first_old_id is null
        on conflict (env_id, session_id) do update set
            client = excluded.client, start = excluded.start, "end" = excluded."end",
            event_count = excluded.event_count, first_event_id = excluded.first_event_id,
            props = excluded.props, has_replay = excluded.has_replay
        returning env_id, anon_user_id, start, "end"
    ), after as (
        select env_id, anon_user_id, min(start) as first_seen, max("end") as last_seen, count(*) as n
        from up group by env_id, anon_user_id
    ), before as (
        select env_id, anon_user_id, count(distinct old_id) as n
        from comp where old_id is not null group by env_id, anon_user_id
    ), delta as (
        select env_id, anon_user_id, a.first_seen, a.last_seen, coalesce(a.n, 0) - coalesce(b.n, 0) as n
        from after a full join before b using (env_id, anon_user_id)
    ), anon as (
        insert into anon_users as au (env_id, anon_user_id, first_seen, last_seen, session_count)
        select env_id, anon_user_id, coalesce(first_seen, 'infinity'), coalesce(last_seen, '-infinity'), n
        from delta order by env_id, anon_user_id
        on conflict (env_id, anon_user_id) do update set
            first_seen = least(au.first_seen, excluded.first_seen),
            last_seen = greatest(au.last_seen, excluded.last_seen),
            session_count = au.session_count + excluded.session_count
    )
    insert into users as u (env_id, user_id, first_seen, last_seen, session_count)
    select d.env_id, coalesce(m.into_user_id, d.anon_user_id) as owner, min(d.first_seen),
           max(d.last_seen), sum(d.n)
    from delta d left join lateral (
        select into_user_id from merges m where m.env_id = d.env_id and m.from_user_id = d.anon_user_id offset 0
    ) m on true
    group by d.env_id, owner order by d.env_id, owner
    on conflict (env_id, user_id) do update set
        first_seen = least(u.first_seen, excluded.first_seen),
        last_seen = greatest(u.last_seen, excluded.last_seen),
        session_count = u.session_count + excluded.session_count
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
    """Insert the new events (returns how many); a plain insert, as DEDUPE left only events never stored.

    `on conflict do nothing` would cost a speculative insertion per event (a fifth more). Only an
    event id sent again under another anonymous user can still collide (another batch, holding the
    other id's lock, may be storing it): then the insert is redone under a savepoint, skipping it.
    """
    try:
        with conn.begin_nested():
            return conn.execute(text(INSERT_EVENTS)).rowcount
    except IntegrityError:
        return conn.execute(text(INSERT_EVENTS + " on conflict do nothing")).rowcount


def _drop_deleted(conn: Connection, env_ids: Iterable[str] | None) -> None:
    """Step 3b: without tombstones in the batch's environments, one index probe and nothing more."""
    if env_ids is None:
        env_ids = conn.scalars(text("select distinct env_id from fresh")).all()
    if conn.execute(text(ENVS_WITH_TOMBSTONES), {"envs": sorted(set(env_ids))}).first() is not None:
        conn.execute(text(DROP_DELETED))
        conn.execute(text(DROP_DELETED_IDENTITIES))


def store_events(conn: Connection, bodies: list[bytes], env_ids: Iterable[str] | None = None) -> int:
    """Store the events of `event.captured` bodies and re-cut their sessions; returns events added.

    Runs inside the caller's transaction; the bodies must already be validated (consumer.decode).
    `env_ids`: the environments the bodies name, when the caller read them already.
    """
    _work_tables(conn)
    _copy_bodies(conn, bodies)
    # A 20k-event batch sorts in memory; and JIT stays off: the steps' estimated costs on the
    # unanalysed work tables pass jit_above_cost, and compiling cost more than running them.
    conn.execute(text("select set_config('work_mem', '64MB', true), set_config('jit', 'off', true)"))
    for step in (STAGE, UNIQUE, LOCK, DEDUPE):
        conn.execute(text(step))
    _drop_deleted(conn, env_ids)
    conn.execute(text(CUT))
    added = _insert_events(conn)
    renamed = conn.execute(text(RENAMED)).all()
    if renamed:
        env_ids, old_ids, new_ids = map(list, zip(*renamed))
        renames = {"env_ids": env_ids, "old_ids": old_ids, "new_ids": new_ids}
        conn.execute(text(RENAME_EVENTS), renames)
    conn.execute(text(UPSERT_SESSIONS_AND_ROLL_UP))
    if renamed:
        conn.execute(text(DELETE_RENAMED), renames)
    catalog.collect(conn)  # 9. what the catalog learns; recorded after the commit (catalog.record)
    return added
