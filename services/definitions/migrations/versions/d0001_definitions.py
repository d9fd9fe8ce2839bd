"""Event definitions: named, coloured criteria per environment.

Revision ID: d0001
Revises:
Create Date: 2026-11-28
"""
from alembic import op

revision = "d0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    create table definitions (
        id text primary key,
        env_id text not null,
        name text not null,
        category text,
        color text,
        description text not null default '',
        criteria jsonb not null,          -- OR list of criteria and {"definition_id"} combo members
        created_at timestamptz not null,
        updated_at timestamptz not null,
        archived boolean not null default false
    );
    -- list order and precedence (ties go to the earliest created)
    create index definitions_env_created on definitions (env_id, created_at, id);
    """)


def downgrade() -> None:
    op.execute("drop table definitions")
