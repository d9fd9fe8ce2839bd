"""Deleted users: tombstones that keep their earlier events and commands out, and the audit of each
deletion (counts, no personal data).

Revision ID: i0100
Revises: i0002
Create Date: 2026-12-07
"""
from alembic import op

revision = "i0100"
down_revision = "i0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    create table tombstones (
        env_id text not null,
        key text collate "C" not null,    -- u:<user id> or i:<identity key>
        cutoff timestamptz not null,      -- events and commands dated up to this are the deleted user's
        deletion_id text not null,
        expires_at timestamptz not null,
        primary key (env_id, key)
    );
    create table deletions (
        env_id text not null,
        deletion_id text not null,
        requested_at timestamptz not null,
        counts jsonb not null default '{}',
        done_at timestamptz,
        primary key (env_id, deletion_id)
    );
    create index warnings_subject on warnings (env_id, subject);
    """)


def downgrade() -> None:
    op.execute("drop index warnings_subject; drop table deletions, tombstones")
