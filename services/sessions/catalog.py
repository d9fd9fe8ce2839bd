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
"""
from __future__ import annotations

import logging

from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from services.sessions.filters import EVENT_FIELDS, SESSION_FIELDS, URL_FIELD
from services.sessions.sessionize import PROPERTY_PATHS, SOURCE_LABELS

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

_SOURCE = " ".join(f"when '{k}' then '{v}'" for k, v in SOURCE_LABELS.items())


def _autocaptured(row: str) -> str:
    """(name, jsonb value) of an event's autocaptured properties, as a VALUES list."""
    by_session = {v: k for k, v in SESSION_FIELDS.items()}
    pairs = [(name, f"to_jsonb({row}.{column})") for name, column in EVENT_FIELDS.items()]
    pairs.append((URL_FIELD, f"{row}.data #> '{{page,url}}'"))
    pairs.append(("$source", f"to_jsonb(case {row}.source {_SOURCE} else {row}.source end)"))
    pairs += [(by_session[key], f"{row}.data #> '{{{outer},{inner}}}'")
              for key, (outer, inner) in PROPERTY_PATHS.items()]
    return "(values " + ", ".join(f"('{name}', {value})" for name, value in pairs) + ")"


def collect_sql(source: str) -> str:
    """The catalog rows of the events of `source` (the batch's `fresh`, or `events` to rebuild)."""
    label = ("case when e.kind in ('click', 'change', 'submit') then e.target_text "
             "when e.kind = 'pageview' then e.page_path else e.name end")
    return f"""
    insert into cat_batch
    with props as (
        select e.env_id, e.kind, e.time, kv.key, kv.value from {source} e, jsonb_each(e.properties) kv
        where kv.value <> 'null'
        union all
        select e.env_id, e.kind, e.time, a.key, a.value from {source} e cross join lateral {_autocaptured('e')} a(key, value)
        where a.value is not null and a.value <> 'null'
    )
    select 'e', env_id, kind, left({label}, {MAX_VALUE_CHARS}), null::jsonb, count(*), max(time)
    from {source} e where {label} is not null group by 2, 3, 4
    union all
    select 'p', env_id, kind, key, null, count(*), max(time) from props group by 2, 3, 4
    union all
    select case when jsonb_typeof(value) in ('string', 'number', 'boolean')
                 and length(value #>> '{{}}') <= {MAX_VALUE_CHARS} then 'v' else 't' end,
           env_id, null::text, key, value, count(*), max(time) from props group by 2, 4, 5
    """


COLLECT = collect_sql("fresh")

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
        f"""with touched as (select distinct env_id, name from cat_batch where what = 'v'),
           over as (select t.env_id, t.name from touched t
                    where (select count(*) from (select 1 from catalog_values v
                           where v.env_id = t.env_id and v.property = t.name limit {max_values + 1}) x) > {max_values}),
           cut as (delete from catalog_values v using over o
                   where v.env_id = o.env_id and v.property = o.name
                     and v.value not in (select value from catalog_values k where k.env_id = o.env_id
                                         and k.property = o.name order by count desc limit {max_values}))
           insert into catalog_truncated select env_id, name from over on conflict do nothing""",
        f"""with touched as (select distinct env_id, kind from cat_batch where what = 'e'),
           over as (select t.env_id, t.kind from touched t
                    where (select count(*) from (select 1 from catalog_events v
                           where v.env_id = t.env_id and v.kind = t.kind limit {max_labels + 1}) x) > {max_labels}),
           cut as (delete from catalog_events v using over o
                   where v.env_id = o.env_id and v.kind = o.kind
                     and v.label not in (select label from catalog_events k where k.env_id = o.env_id
                                         and k.kind = o.kind order by count desc limit {max_labels}))
           insert into catalog_truncated select env_id, '$event:' || kind from over on conflict do nothing""",
        "delete from cat_batch",
    ]


RECORD = record_statements()


def collect(conn: Connection) -> None:
    """On the events transaction, after the new events are known: the batch's catalog rows."""
    conn.execute(text(CREATE))
    conn.execute(text("delete from cat_batch"))  # left by a batch whose record failed
    conn.execute(text(COLLECT))


def record(conn: Connection) -> None:
    """In its own transaction after the batch's commit: the collected rows into the catalog.

    A failure leaves the catalog short of one batch's counts (it only suggests, and the planner
    checks every value it resolves against the events themselves): logged, not retried.
    """
    try:
        with conn.begin():
            for statement in RECORD:
                conn.execute(text(statement))
    except DBAPIError:
        log.exception("catalog update failed; the batch's events are stored")


def rebuild(conn: Connection, env_id: str) -> None:
    """An environment's catalog recounted from its stored events (migrations, generated data)."""
    for table in ("catalog_events", "catalog_properties", "catalog_values", "catalog_truncated"):
        conn.execute(text(f"delete from {table} where env_id = :env"), {"env": env_id})
    conn.execute(text(CREATE))
    conn.execute(text("delete from cat_batch"))
    conn.execute(text(collect_sql("(select * from events where env_id = :env)")), {"env": env_id})
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
    return [{"property": r.property, "count": int(r.count), "last_seen": r.last_seen} for r in rows]


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
