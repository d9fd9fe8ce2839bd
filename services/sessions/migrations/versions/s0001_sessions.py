"""Events, sessions, the users feed read model, the merge map and replays.

Revision ID: s0001
Revises:
Create Date: 2024-05-01
"""
from alembic import op

revision = "s0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    create table events (
        env_id text not null,
        event_id text not null,
        kind text not null,
        name text,
        page_path text,
        page_domain text,
        target_text text,
        hierarchy jsonb not null default '[]',
        properties jsonb not null default '{}',
        time timestamptz not null,
        received_at timestamptz not null,
        user_id text not null,            -- the current owner: follows user.merged
        anon_user_id text not null,       -- the anonymous user id the client held; never changes
        device_id text not null,
        identity text,
        source text not null,
        client_session_id text,
        session_id text not null,
        data jsonb not null,              -- the whole canonical event
        primary key (env_id, event_id)
    );
    -- did_event filters and merges look events up by owner; a session's events by session.
    create index events_user_time on events (env_id, user_id, time);
    create index events_session on events (env_id, session_id, time, event_id);

    create table sessions (
        env_id text not null,
        session_id text not null,
        user_id text not null,
        anon_user_id text not null,
        source text not null,
        client boolean not null,
        start timestamptz not null,
        "end" timestamptz not null,
        event_count integer not null,
        first_event_id text not null,
        props jsonb not null,
        has_replay boolean not null default false,
        primary key (env_id, session_id)
    );
    create index sessions_user_start on sessions (env_id, user_id, start desc, session_id desc);
    create index sessions_stream on sessions (env_id, anon_user_id, source, start) where not client;

    create table users (
        env_id text not null,
        user_id text not null,
        identity text,
        properties jsonb not null default '{}',
        version bigint not null default -1,
        first_seen timestamptz,
        last_seen timestamptz,
        session_count integer not null default 0,
        primary key (env_id, user_id)
    );
    -- One index scan answers a feed page: most recent activity first, keyset on (last_seen, user_id).
    create index users_feed on users (env_id, last_seen desc, user_id desc) where last_seen is not null;

    -- Path-compressed: into_user_id is always the final survivor, so one lookup resolves an owner.
    create table merges (
        env_id text not null,
        from_user_id text not null,
        into_user_id text not null,
        at timestamptz not null,
        primary key (env_id, from_user_id)
    );
    create index merges_into on merges (env_id, into_user_id);

    create table replays (
        env_id text not null,
        session_id text not null,
        primary key (env_id, session_id)
    );

    -- sessionize.session_key in SQL: 53 bits of md5(env \\x1f user \\x1f first event id).
    create function session_key(env text, anon text, first_event text) returns text
    language sql immutable parallel safe as $$
        select ((('x' || substr(md5(env || chr(31) || anon || chr(31) || first_event), 1, 16))::bit(64)::bigint)
                & 9007199254740991)::text
    $$;
    """)


def downgrade() -> None:
    op.execute("drop table if exists events, sessions, users, merges, replays cascade; "
               "drop function if exists session_key(text, text, text)")
