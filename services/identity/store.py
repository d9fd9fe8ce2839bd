"""Identity tables, and the queries on them that are not the batch write path (batch_store.py).

Here: the tables (each id's own facts and its owner's materialised state, see batch_store.py),
the reads the API and the snapshots use, the statistics upkeep, and the transactional outbox.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping

import orjson
from psycopg.types.json import set_json_loads
from pydantic import TypeAdapter
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    LargeBinary,
    MetaData,
    Table,
    Text,
    delete,
    event,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Connection, Engine

from footfall.config import Settings
from footfall.db import make_engine
from footfall.messages import UserSnapshot
from services.identity.merge import user_properties
from services.identity.properties import PropertyWrite

metadata = MetaData(schema="identity")

users = Table(
    "users", metadata,
    Column("env_id", Text, primary_key=True), Column("user_id", Text, primary_key=True),
    Column("identity", Text), Column("owner_id", Text, nullable=False),
    Column("merged_at", DateTime(timezone=True)),
    Column("own_first_seen", DateTime(timezone=True)), Column("own_first_event", Text),
    Column("own_initial", JSONB), Column("own_last_seen", DateTime(timezone=True)),
    Column("first_seen", DateTime(timezone=True)), Column("first_event", Text),
    Column("initial", JSONB, nullable=False),
    Column("last_seen", DateTime(timezone=True)), Column("version", BigInteger, nullable=False),
    Column("created_at", DateTime(timezone=True)), Column("updated_at", DateTime(timezone=True)),
)
devices = Table(
    "devices", metadata,
    Column("env_id", Text, primary_key=True), Column("user_id", Text, primary_key=True),
    Column("device_id", Text, primary_key=True),
    Column("first_seen", DateTime(timezone=True)),
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


def make_identity_engine(settings: Settings | None = None) -> Engine:
    """The service's engine; jsonb is parsed with orjson (snapshots read thousands of documents)."""
    engine = make_engine("identity", settings)

    @event.listens_for(engine, "connect")
    def _orjson(dbapi_connection, _record) -> None:
        set_json_loads(orjson.loads, dbapi_connection)

    return engine


# --- Reading -----------------------------------------------------------------------------------------

_OWNERS = text("""
select user_id, identity, first_seen, last_seen, initial, version
from users where env_id = :env and user_id = any(array(select jsonb_array_elements_text(cast(:owners as jsonb))))
    and owner_id = user_id
""")

# Per key, the latest write over every id the user owns; `first_set_at` over all of them (bounds).
_OWNER_PROPERTIES = text("""
select owner_id, key, value, set_at, set_by, first_set_at from (
    select o.owner_id, p.key, p.value, p.set_at, p.set_by,
           min(p.first_set_at) over (partition by o.owner_id, p.key) as first_set_at,
           row_number() over (partition by o.owner_id, p.key order by p.set_at desc, p.set_by desc) as rank
    from jsonb_array_elements_text(cast(:owners as jsonb)) as wanted(owner_id)
    join users o on o.env_id = :env and o.owner_id = wanted.owner_id
    join user_properties p on p.env_id = o.env_id and p.user_id = o.user_id
) ranked where rank = 1
""")


def json_rows(items: list) -> str:
    """Bulk parameters as one JSON array: cheaper to send and unpack than a text[] or jsonb[]
    (see the statements in batch_store.py)."""
    return orjson.dumps(items).decode()


# Validating the whole list at once costs half as much per snapshot as building each model alone
# (and less than model_construct, which runs in Python); a batch may name thousands of users.
_SNAPSHOTS = TypeAdapter(list[UserSnapshot])


def load_users(conn: Connection, env: str,
               owner_ids: list[str]) -> tuple[dict[str, UserSnapshot], dict[str, list[str]]]:
    """Snapshots of surviving users by id, and per user the property keys the bounds dropped."""
    writes: dict[str, dict[str, PropertyWrite]] = defaultdict(dict)
    owners = json_rows(owner_ids)
    for row in conn.execute(_OWNER_PROPERTIES, {"env": env, "owners": owners}).all():
        writes[row.owner_id][row.key] = PropertyWrite(row.value, row.set_at, row.set_by, row.first_set_at)
    fields, dropped = [], {}
    for user_id, identity, first_seen, last_seen, initial, version in conn.execute(
            _OWNERS, {"env": env, "owners": owners}).all():  # fetchall: no per-row fetch
        properties = initial  # most users have no custom properties: nothing to bound
        if user_id in writes:
            properties, lost = user_properties(writes[user_id], initial)
            if lost:
                dropped[user_id] = lost
        fields.append({"user_id": user_id, "identity": identity, "properties": properties,
                       "first_seen": first_seen, "last_seen": last_seen, "version": version})
    return {s.user_id: s for s in _SNAPSHOTS.validate_python(fields)}, dropped


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
        select(devices.c.device_id, devices.c.user_id, devices.c.first_seen)
        .where(devices.c.env_id == env, devices.c.user_id.in_(members))
        .order_by(devices.c.device_id, devices.c.first_seen)
    )
    by_device: dict[str, dict] = {}
    for row in rows:
        entry = by_device.setdefault(row.device_id, {
            "device_id": row.device_id, "user_ids": [], "first_seen": row.first_seen})
        entry["user_ids"].append(row.user_id)
    return list(by_device.values())


def list_warnings(conn: Connection, env: str, limit: int, before_id: int | None = None) -> list[dict]:
    """Ingestion warnings, newest first (keyset by id)."""
    query = select(warnings).where(warnings.c.env_id == env)
    if before_id is not None:
        query = query.where(warnings.c.id < before_id)
    rows = conn.execute(query.order_by(warnings.c.id.desc()).limit(limit)).mappings()
    return [{k: v for k, v in row.items() if k != "env_id"} for row in rows]


# The summary reads the newest warnings only: a bounded read of the (env_id, id desc) index however
# many an environment has gathered.
SUMMARY_SCANNED = 10_000
EXAMPLES_PER_KIND = 3

_SUMMARY = text("""
select kind, count(*) as count, max(recorded_at) as latest,
       (array_agg(id order by id desc))[1:cast(:examples as int)] as example_ids
from (select id, kind, recorded_at from warnings where env_id = :env order by id desc limit :scanned) w
group by kind order by count(*) desc, kind
""")


def summarize_warnings(conn: Connection, env: str) -> dict:
    """Per kind of the newest SUMMARY_SCANNED warnings: count, latest time and a few examples."""
    groups = conn.execute(_SUMMARY, {"env": env, "scanned": SUMMARY_SCANNED,
                                     "examples": EXAMPLES_PER_KIND}).all()
    ids = [i for g in groups for i in g.example_ids]
    examples = {}
    if ids:
        rows = conn.execute(select(warnings).where(warnings.c.env_id == env, warnings.c.id.in_(ids))).mappings()
        examples = {row["id"]: {k: v for k, v in row.items() if k != "env_id"} for row in rows}
    kinds = [{"kind": g.kind, "count": g.count, "latest": g.latest,
              "examples": [examples[i] for i in g.example_ids if i in examples]} for g in groups]
    return {"kinds": kinds, "scanned": SUMMARY_SCANNED,
            "complete": sum(k["count"] for k in kinds) < SUMMARY_SCANNED}


# --- Statistics ---------------------------------------------------------------------------------------

# Stale = grown by a fifth (and a thousand rows) since the last analysis. Estimates go wrong when a
# table grows; updates in place do not move them, and counting them too (autovacuum's rule) had
# the users table analysed after nearly every batch under load, since every batch updates its users.
_STALE = text("""
select s.relname from pg_stat_user_tables s join pg_class c on c.oid = s.relid
where s.schemaname = 'identity' and s.n_mod_since_analyze > 1000 + 0.1 * s.n_live_tup
  and s.n_live_tup > 1000 + 1.2 * greatest(c.reltuples, 0)
""")


def analyze_if_stale(engine: Engine) -> list[str]:
    """ANALYZE tables grown much since their last analysis; returns their names.

    The batch statements join a batch against the tables; without statistics (a table that grew
    from empty minutes ago, or a server running without autovacuum, as CI does) the planner takes
    them for empty and may nest loops quadratically. Autovacuum's own threshold, checked by us.
    """
    with engine.begin() as conn:
        stale = list(conn.scalars(_STALE))
        for table in stale:
            conn.execute(text(f'analyze identity."{table}"'))
    return stale


# --- Outbox -------------------------------------------------------------------------------------------


def enqueue(conn: Connection, routing_key: str, message_id: str, body: bytes) -> int:
    """Add a message to the outbox (inside the caller's transaction); returns its row id."""
    return conn.scalar(outbox.insert().values(routing_key=routing_key, message_id=message_id, body=body)
                       .returning(outbox.c.id))


def flush_outbox(engine: Engine, publish, limit: int = 500, held: Mapping[int, bytes] | None = None) -> int:
    """Publish pending outbox rows (oldest first) and delete them; `publish(routing_key, body, id)`.

    `held`: bodies the caller still has in memory by row id (what it just enqueued), which are not
    read back; a batch's snapshots of thousands of users weigh megabytes.
    """
    held = held or {}
    sent = 0
    while True:
        with engine.begin() as conn:
            rows = conn.execute(
                select(outbox.c.id, outbox.c.routing_key, outbox.c.message_id)
                .order_by(outbox.c.id).limit(limit).with_for_update(skip_locked=True)
            ).all()
            missing = [row.id for row in rows if row.id not in held]
            read_back = dict(conn.execute(select(outbox.c.id, outbox.c.body)
                                          .where(outbox.c.id.in_(missing))).all()) if missing else {}
            for row in rows:
                publish(row.routing_key, bytes(held.get(row.id) or read_back[row.id]), row.message_id)
            if rows:
                conn.execute(delete(outbox).where(outbox.c.id.in_([r.id for r in rows])))
        sent += len(rows)
        if len(rows) < limit:
            return sent
