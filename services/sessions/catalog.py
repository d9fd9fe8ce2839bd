"""The per-environment catalog: event labels with counts, property names per event kind, and the
top values of each property. The filter editor completes from it; the planner (plan.py) resolves
a text operator on a label or a property into the exact values it matches, which the indexes find.

Kept current from the event stream at the cost of one statement per batch on the hot transaction
(`COLLECT`: a GROUP BY over the batch's new events into a connection-local table) and a short
transaction after the commit (`record`): one upsert per distinct label, property or value of the
batch, in key order (two consumers upserting the same rows wait, never deadlock).

Bounded: at most MAX_VALUES values per property and MAX_LABELS labels per kind are kept (the most
frequent); once a property or kind outgrew that (or held a value too long or not a scalar), it is
marked truncated, and the planner no longer trusts the catalog to list all its values.

The one gap: a consumer killed between the events' commit and `record` loses that batch's
catalog rows without marking anything; `rebuild` recounts an environment from its events.
"""
from __future__ import annotations

import logging

from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from services.sessions.filters import AUTOCAPTURED, SESSION_FIELDS

log = logging.getLogger(__name__)

MAX_VALUES = 1000
MAX_LABELS = 2000
MAX_VALUE_CHARS = 200
MAX_LOOKUP = 100

CREATE = """
    create temp table if not exists cat_batch (
        what text, env_id text collate "C", kind text collate "C", name text collate "C",
        value jsonb, n bigint, at timestamptz
    )
"""

# The batch's sessions that hold no stored session: their properties are new to the catalog
# (probed by key: a join let the planner hash all of `sessions`).
NEW_SESSIONS = """(select s.* from (
    select env_id, new_id from comp group by env_id, new_id having bool_and(old_id is null)
) c cross join lateral (
    select * from sessions s where s.env_id = c.env_id and s.session_id = c.new_id offset 0
) s)"""


def collect_sql(source: str, new_sessions: str) -> str:
    """The catalog rows of the events of `source` and the sessions of `new_sessions`.

    Each event is read once for its label (which is also its `$text`, `$path` or `$name` value)
    and once per custom property; session properties once per session, not per event. The names of
    autocaptured properties are not counted: every kind has them (`autocaptured_names`).
    """
    label = ("case when e.kind in ('click', 'change', 'submit') then e.target_text "
             "when e.kind = 'pageview' then e.page_path else e.name end")
    names = " ".join(f"when '{key}' then '{name}'" for name, key in SESSION_FIELDS.items())
    return f"""
    insert into cat_batch
    with custom as materialized (
        select e.env_id, e.kind, kv.key, kv.value, count(*) as n, max(e.time) as at
        from {source} e, jsonb_each(e.properties) kv
        where e.properties <> '{{}}'::jsonb and kv.value <> 'null'
        group by 1, 2, 3, 4
    ), labels as materialized (
        select e.env_id, e.kind, left({label}, {MAX_VALUE_CHARS}) as label,
               case when e.kind = 'pageview' then e.page_domain end as domain, count(*) as n,
               max(e.time) as at
        from {source} e where {label} is not null group by 1, 2, 3, 4
    ), vals as (
        select env_id, key, value, n, at from custom
        union all
        select env_id, case when kind = 'pageview' then '$path'
                            when kind in ('click', 'change', 'submit') then '$text' else '$name' end,
               to_jsonb(label), n, at from labels
        union all
        select env_id, '$domain', to_jsonb(domain), n, at from labels where domain is not null
        union all
        select s.env_id, case kv.key {names} end, kv.value, 1, s.start
        from {new_sessions} s, jsonb_each(s.props) kv where kv.value <> 'null'
    )
    select 'e', env_id, kind, label, null::jsonb, sum(n)::bigint, max(at) from labels group by 2, 3, 4
    union all
    select 'p', env_id, kind, key, null, sum(n)::bigint, max(at) from custom group by 2, 3, 4
    union all
    select case when jsonb_typeof(value) in ('string', 'number', 'boolean')
                 and length(value #>> '{{}}') <= {MAX_VALUE_CHARS} then 'v' else 't' end,
           env_id, null::text, key, value, sum(n)::bigint, max(at)
    from vals where key is not null group by 2, 4, 5
    """


COLLECT = collect_sql("fresh", NEW_SESSIONS)

def _prune(table: str, group: str, item: str, batch_column: str, what: str, bound: int,
           truncated_as: str) -> str:
    """Groups (a property's values, a kind's labels) the batch touched that outgrew `bound` keep
    their most frequent items and are marked truncated."""
    return f"""with touched as (select distinct env_id, {batch_column} from cat_batch where what = '{what}'),
           over as (select t.env_id, t.{batch_column} from touched t
                    where (select count(*) from (select 1 from {table} v where v.env_id = t.env_id
                           and v.{group} = t.{batch_column} limit {bound + 1}) x) > {bound}),
           cut as (delete from {table} v using over o
                   where v.env_id = o.env_id and v.{group} = o.{batch_column}
                     and v.{item} not in (select {item} from {table} k where k.env_id = o.env_id
                                         and k.{group} = o.{batch_column} order by count desc limit {bound}))
           insert into catalog_truncated select env_id, {truncated_as} from over on conflict do nothing"""


def record_statements(max_values: int = MAX_VALUES, max_labels: int = MAX_LABELS) -> list[str]:
    """The statements of `record` (the bounds are parameters for the tests)."""
    return [
        """insert into catalog_events as c (env_id, kind, label, count, last_seen)
           select env_id, kind, name, n, at from cat_batch where what = 'e' order by 1, 2, 3
           on conflict (env_id, kind, label) do update set
               count = c.count + excluded.count, last_seen = greatest(c.last_seen, excluded.last_seen)""",
        """insert into catalog_properties as c (env_id, kind, property, count, last_seen)
           select env_id, kind, name, n, at from cat_batch where what = 'p' order by 1, 2, 3
           on conflict (env_id, kind, property) do update set
               count = c.count + excluded.count, last_seen = greatest(c.last_seen, excluded.last_seen)""",
        """insert into catalog_values as c (env_id, property, value, count, last_seen)
           select env_id, name, value, n, at from cat_batch where what = 'v' order by 1, 2, 3
           on conflict (env_id, property, value) do update set
               count = c.count + excluded.count, last_seen = greatest(c.last_seen, excluded.last_seen)""",
        """insert into catalog_truncated (env_id, property)
           select distinct env_id, name from cat_batch where what = 't' order by 1, 2 on conflict do nothing""",
        # Properties and kinds the batch touched that outgrew their bound keep their most frequent
        # values and are marked truncated.
        _prune("catalog_values", "property", "value", "name", "v", max_values, "name"),
        _prune("catalog_events", "kind", "label", "kind", "e", max_labels, "'$event:' || kind"),
        "delete from cat_batch",
    ]


RECORD = record_statements()


def collect(conn: Connection) -> None:
    """On the events transaction, after the new events are known: the batch's catalog rows."""
    # The statement's estimated cost on the unanalysed work tables passes jit_above_cost, and
    # compiling it cost more than running it (0.3 s per batch).
    conn.execute(text("set local jit = off"))
    conn.execute(text(CREATE))
    conn.execute(text("delete from cat_batch"))  # left by a batch whose record failed
    conn.execute(text(COLLECT))


# What a batch whose catalog rows could not be recorded marks truncated: the planner then no
# longer trusts the catalog to list every value of what the batch touched.
MARK_TOUCHED = """
    insert into catalog_truncated (env_id, property)
    select distinct env_id, case when what = 'e' then '$event:' || kind else name end
    from cat_batch where what in ('e', 'v') order by 1, 2 on conflict do nothing
"""


def record(conn: Connection, attempts: int = 3) -> None:
    """In its own transaction after the batch's commit: the collected rows into the catalog.

    Two consumers' upserts wait for each other rather than deadlock (key order), but a prune may
    still meet one in another order: retried. If the rows cannot be recorded, what they touched
    is marked truncated (suggestions miss one batch; the planner stops relying on the catalog for
    those names), and the failure is logged: the batch's events are stored either way.
    """
    for attempt in range(attempts):
        try:
            with conn.begin():
                for statement in RECORD:
                    conn.execute(text(statement))
            return
        except DBAPIError:
            if attempt == attempts - 1:
                log.exception("catalog update failed; the batch's events are stored")
    try:
        with conn.begin():
            conn.execute(text(MARK_TOUCHED))
            conn.execute(text("delete from cat_batch"))
    except DBAPIError:
        log.exception("catalog: could not mark what a failed batch touched")


def rebuild(conn: Connection, env_id: str) -> None:
    """An environment's catalog recounted from its stored events (migrations, generated data)."""
    for table in ("catalog_events", "catalog_properties", "catalog_values", "catalog_truncated"):
        conn.execute(text(f"delete from {table} where env_id = :env"), {"env": env_id})
    conn.execute(text(CREATE))
    conn.execute(text("delete from cat_batch"))
    conn.execute(text(collect_sql("(select * from events where env_id = :env)",
                                  "(select * from sessions where env_id = :env)")), {"env": env_id})
    for statement in RECORD:
        conn.execute(text(statement))


# --- Reading: the editor's suggestions --------------------------------------------------------


def _like(q: str) -> str:
    return "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def event_names(conn: Connection, env_id: str, kind: str | None, q: str | None, limit: int) -> list[dict]:
    rows = conn.execute(text("""
        select kind, label, count, last_seen from catalog_events
        where env_id = :env and (cast(:kind as text) is null or kind = :kind)
          and (cast(:q as text) is null or label ilike :q)
        order by count desc, kind, label limit :limit
    """), {"env": env_id, "kind": kind, "q": _like(q) if q else None, "limit": limit})
    return [{"kind": r.kind, "label": r.label, "count": r.count, "last_seen": r.last_seen} for r in rows]


def property_names(conn: Connection, env_id: str, kind: str | None, q: str | None,
                   limit: int) -> list[dict]:
    rows = conn.execute(text("""
        select property, sum(count) as count, max(last_seen) as last_seen from catalog_properties
        where env_id = :env and (cast(:kind as text) is null or kind = :kind)
          and (cast(:q as text) is null or property ilike :q)
        group by property order by count desc, property limit :limit
    """), {"env": env_id, "kind": kind, "q": _like(q) if q else None, "limit": limit})
    custom = [{"property": r.property, "count": int(r.count), "last_seen": r.last_seen,
               "autocaptured": False} for r in rows]
    return custom + [{"property": name, "count": None, "last_seen": None, "autocaptured": True}
                     for name in autocaptured_names(kind) if not q or q.lower() in name.lower()]


def autocaptured_names(kind: str | None) -> list[str]:
    """The autocaptured properties an event of this kind may have."""
    skip = {"click": {"$name"}, "change": {"$name"}, "submit": {"$name"}, "pageview": {"$text"},
            "custom": {"$text"}, "screen": {"$text", "$path", "$domain", "$url"}}.get(kind or "", set())
    return [name for name in AUTOCAPTURED if name not in skip]


def property_values(conn: Connection, env_id: str, prop: str, q: str | None, limit: int) -> dict:
    rows = conn.execute(text("""
        select value, count from catalog_values
        where env_id = :env and property = :property
          and (cast(:q as text) is null or value #>> '{}' ilike :q)
        order by count desc limit :limit
    """), {"env": env_id, "property": prop, "q": _like(q) if q else None, "limit": limit})
    truncated = conn.execute(text("select 1 from catalog_truncated where env_id = :env and property = :p"),
                             {"env": env_id, "p": prop}).first() is not None
    return {"values": [{"value": r.value, "count": r.count} for r in rows], "complete": not truncated}
