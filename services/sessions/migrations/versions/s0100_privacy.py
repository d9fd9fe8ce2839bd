"""Deletion, tombstones and retention: what a deleted user leaves (an audit row, tombstones), and an
index that finds a day of expired sessions without reading the table.

`tombstones` keeps, per deleted id (`u:<anonymous user id>`, `i:<identity key>`, `s:<session id>`),
the time up to which its data was deleted: events dated up to it never come back. `deletions`
is the audit of each deletion (counts, no personal data) and the outbox of its message to the
replay service. `sessions_start_brin` is a BRIN index (a few pages for millions of rows, next to
nothing per insert, and no obstacle to HOT updates since start rarely changes): retention reads
only the block ranges holding sessions that started before its cutoff.

Revision ID: s0100
Revises: s0005
Create Date: 2026-12-07
"""
from alembic import op

revision = "s0100"
down_revision = "s0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    create table tombstones (
        env_id text collate "C" not null,
        key text collate "C" not null,
        cutoff timestamptz not null,      -- events dated up to this are the deleted user's
        deletion_id text not null,
        expires_at timestamptz not null,
        primary key (env_id, key)
    );
    create table deletions (
        env_id text collate "C" not null,
        deletion_id text not null,
        requested_at timestamptz not null,
        counts jsonb not null default '{}',
        replay_session_ids jsonb not null default '[]',
        announced boolean not null default false,  -- the replay service was told (outbox)
        done_at timestamptz,
        primary key (env_id, deletion_id)
    );
    create index deletions_unannounced on deletions (done_at) where not announced;
    create index sessions_start_brin on sessions using brin (start) with (pages_per_range = 32);
    """)


def downgrade() -> None:
    op.execute("drop index sessions_start_brin; drop table deletions, tombstones")
