"""The sessions schema (SQLAlchemy Core): what each table holds and who writes it.

Events and sessions keep the anonymous user id they were captured under (`anon_user_id`, never
updated); who owns them is read through the merge map at query time (`owner_of`, `members_of`).
So a merge rewrites no event or session: it writes map rows and recomputes the feed rows of the
users it touches from their members' `anon_users` rows.

Distribution (docs/sessions.md "Beyond one PostgreSQL"): every table is keyed by `env_id` first and
no statement updates `env_id` or `anon_user_id`.
"""
from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ColumnElement,
    DateTime,
    Integer,
    MetaData,
    Table,
    Text,
    func,
    select,
    union_all,
)
from sqlalchemy.dialects.postgresql import JSONB

SCHEMA = "sessions"
metadata = MetaData()
TZ = DateTime(timezone=True)

# Written by the events path (events_path.py); `session_id` changes when a late event joins two
# sessions of the same stream.
events = Table(
    "events", metadata,
    Column("env_id", Text, primary_key=True), Column("event_id", Text, primary_key=True),
    Column("kind", Text), Column("name", Text), Column("page_path", Text),
    Column("page_domain", Text), Column("target_text", Text), Column("hierarchy", JSONB),
    Column("properties", JSONB), Column("time", TZ), Column("received_at", TZ),
    Column("anon_user_id", Text), Column("device_id", Text),
    Column("identity", Text), Column("source", Text), Column("client_session_id", Text),
    Column("session_id", Text), Column("data", JSONB),
)
# Written by the events path; `has_replay` by replays too (facts.py).
sessions = Table(
    "sessions", metadata,
    Column("env_id", Text, primary_key=True), Column("session_id", Text, primary_key=True),
    Column("anon_user_id", Text), Column("source", Text),
    Column("client", Boolean), Column("start", TZ), Column("end", TZ),
    Column("event_count", Integer), Column("first_event_id", Text), Column("props", JSONB),
    Column("has_replay", Boolean),
)
# Each anonymous user id's sessions rolled up (events path): a feed row is the join of its members'.
anon_users = Table(
    "anon_users", metadata,
    Column("env_id", Text, primary_key=True), Column("anon_user_id", Text, primary_key=True),
    Column("first_seen", TZ), Column("last_seen", TZ), Column("session_count", Integer),
)
# The feed read model, one row per surviving user: activity from the events path and merges,
# identity and properties from identity's snapshots (facts.py).
users = Table(
    "users", metadata,
    Column("env_id", Text, primary_key=True), Column("user_id", Text, primary_key=True),
    Column("identity", Text), Column("properties", JSONB), Column("version", BigInteger),
    Column("first_seen", TZ), Column("last_seen", TZ), Column("session_count", Integer),
)
# The merge map (merges.py): per merged-away user its chosen merge (the earliest (at, into)) and
# its final survivor, kept path-compressed so an owner is one lookup.
merges = Table(
    "merges", metadata,
    Column("env_id", Text, primary_key=True), Column("from_user_id", Text, primary_key=True),
    Column("into_user_id", Text),
    Column("at", TZ), Column("direct_into_user_id", Text),
)
replays = Table(
    "replays", metadata,
    Column("env_id", Text, primary_key=True), Column("session_id", Text, primary_key=True),
)
# Deleted ids (deletion.py): `u:<anonymous user id>`, `i:<identity key>`, `s:<session id>`, with
# the time up to which their data was deleted; the events path and the facts drop what they name.
tombstones = Table(
    "tombstones", metadata,
    Column("env_id", Text, primary_key=True), Column("key", Text, primary_key=True),
    Column("cutoff", TZ), Column("deletion_id", Text), Column("expires_at", TZ),
)
# One row per deletion: its counts (the audit), and the replay sessions to announce (an outbox).
deletions = Table(
    "deletions", metadata,
    Column("env_id", Text, primary_key=True), Column("deletion_id", Text, primary_key=True),
    Column("requested_at", TZ), Column("counts", JSONB), Column("replay_session_ids", JSONB),
    Column("announced", Boolean), Column("done_at", TZ),
)


def owner_of(env_id: str, anon_user_id: ColumnElement) -> ColumnElement:
    """The surviving user of an anonymous user id (a scalar subquery of the merge map)."""
    into = (select(merges.c.into_user_id)
            .where(merges.c.env_id == env_id, merges.c.from_user_id == anon_user_id)
            .scalar_subquery())
    return func.coalesce(into, anon_user_id)


def members_of(env_id: str, user_id: ColumnElement):
    """The anonymous user ids whose data belongs to `user_id`: itself and every id merged into it."""
    outer = user_id.table  # correlated to the query that selects the user, however deep
    return union_all(
        select(user_id.label("anon_user_id")).correlate(outer),
        select(merges.c.from_user_id).where(merges.c.env_id == env_id, merges.c.into_user_id == user_id)
        .correlate(outer),
    )
