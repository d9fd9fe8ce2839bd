"""Users (own facts + materialised state), identity links, devices, properties, merges, warnings, outbox.

Revision ID: i0001
Revises:
Create Date: 2026-11-28
"""
from alembic import op

revision = "i0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    create table users (
        env_id text not null,
        user_id text not null,
        identity text,                    -- set on identified users (user_id = hash53(env, identity))
        owner_id text not null,           -- the surviving user: itself unless merged away
        merged_at timestamptz,            -- time of the winning claim when merged away
        -- what this id's own events said (a join of facts: earliest event, latest time)
        own_first_seen timestamptz,
        own_first_event text collate "C",  -- "C": the same order as Python's str
        own_initial jsonb,
        own_last_seen timestamptz,
        -- materialised over every id the user owns (owners only)
        first_seen timestamptz,
        first_event text collate "C",
        initial jsonb not null default '{}',
        last_seen timestamptz,
        version bigint not null default 0,
        created_at timestamptz not null default now(),
        updated_at timestamptz not null default now(),
        primary key (env_id, user_id)
    ) with (fillfactor = 70);  -- room for HOT updates: every batch rewrites the rows it touches
    create index users_owner on users (env_id, owner_id);

    create table links (
        env_id text not null,
        anonymous_user_id text not null,
        identity text collate "C" not null,
        claimed_at timestamptz not null,  -- event time of the earliest claim: it wins
        claim_id text collate "C" not null,
        primary key (env_id, anonymous_user_id)
    );

    create table devices (
        env_id text not null,
        user_id text not null,            -- the id the device was seen under (before merges)
        device_id text not null,
        first_seen timestamptz not null,  -- earliest only: a known device costs no write
        primary key (env_id, user_id, device_id)
    );
    create index devices_device on devices (env_id, device_id);

    create table user_properties (
        env_id text not null,
        user_id text not null,            -- the id the write named (before merges)
        key text not null,
        value jsonb not null,
        set_at timestamptz not null,      -- event time of the winning write
        set_by text collate "C" not null,            -- its command id (tie-break)
        first_set_at timestamptz not null,
        primary key (env_id, user_id, key)
    );

    create table merge_log (
        env_id text not null,
        from_user_id text not null,
        into_user_id text not null,
        identity text not null,
        at timestamptz not null,
        recorded_at timestamptz not null default now(),
        primary key (env_id, from_user_id, into_user_id)
    );

    create table warnings (
        id bigserial primary key,
        env_id text not null,
        key text not null,
        kind text not null,
        message text not null,
        subject text,
        details jsonb not null default '{}',
        occurred_at timestamptz not null,
        recorded_at timestamptz not null default now(),
        unique (env_id, key)
    );
    create index warnings_recent on warnings (env_id, id desc);

    create table outbox (
        id bigserial primary key,
        routing_key text not null,
        message_id text not null,
        body bytea not null,
        created_at timestamptz not null default now()
    );
    """)


def downgrade() -> None:
    op.execute("drop table outbox, warnings, merge_log, user_properties, devices, links, users")
