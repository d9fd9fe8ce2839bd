"""Events and sessions keep the anonymous user id they were captured under; owners are read through
the merge map, and each anonymous user id's activity is rolled up in `anon_users`.

A merge used to rewrite `user_id` on every event and session of the merged user (a cost that grew
with its history) under an environment-wide lock. Now a merge writes a row of the merge map and
recomputes its users' feed rows from their members' `anon_users` rows; events and sessions are
never rewritten for a merge, and `anon_user_id` (never updated) indexes a user's data.

Revision ID: s0005
Revises: s0004
Create Date: 2026-12-06
"""
from alembic import op

revision = "s0005"
down_revision = "s0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    create table anon_users (
        env_id text collate "C" not null,
        anon_user_id text collate "C" not null,
        first_seen timestamptz not null,
        last_seen timestamptz not null,
        session_count integer not null,
        primary key (env_id, anon_user_id)
    ) with (fillfactor = 80);
    insert into anon_users
    select env_id, anon_user_id, min(start), max("end"), count(*) from sessions group by 1, 2;

    create index events_anon_time on events (env_id, anon_user_id, time);
    drop index events_user_time;
    alter table events drop column user_id;

    create index sessions_anon_start on sessions (env_id, anon_user_id, start desc, session_id desc);
    drop index sessions_user_start;
    alter table sessions drop column user_id;
    """)


def downgrade() -> None:
    op.execute("""
    alter table events add column user_id text collate "C";
    update events e set user_id = coalesce(
        (select into_user_id from merges m where m.env_id = e.env_id and m.from_user_id = e.anon_user_id),
        e.anon_user_id);
    alter table events alter column user_id set not null;
    create index events_user_time on events (env_id, user_id, time);
    drop index events_anon_time;
    alter table sessions add column user_id text collate "C";
    update sessions s set user_id = coalesce(
        (select into_user_id from merges m where m.env_id = s.env_id and m.from_user_id = s.anon_user_id),
        s.anon_user_id);
    alter table sessions alter column user_id set not null;
    create index sessions_user_start on sessions (env_id, user_id, start desc, session_id desc);
    drop index sessions_anon_start;
    drop table anon_users;
    """)
