"""Deleted users' replays: tombstones of their sessions (later chunks are refused) and the audit of
each deletion (counts, no personal data).

Revision ID: rp0100
Revises: rp0001
Create Date: 2026-12-07
"""
from alembic import op

revision = "rp0100"
down_revision = "rp0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    create table tombstones (
        env_id varchar(64) not null,
        session_id varchar(128) not null,
        deletion_id text not null,
        expires_at timestamptz not null,
        primary key (env_id, session_id)
    );
    create table deletions (
        env_id varchar(64) not null,
        deletion_id text not null,
        counts jsonb not null default '{}',
        done_at timestamptz not null default now(),
        primary key (env_id, deletion_id)
    );
    """)


def downgrade() -> None:
    op.execute("drop table deletions, tombstones")
