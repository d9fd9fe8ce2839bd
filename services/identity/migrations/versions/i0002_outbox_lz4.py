"""Outbox bodies compressed with lz4 instead of pglz.

A batch's user.updated message carries thousands of snapshots (megabytes of JSON), compressed on
every insert: lz4 does it in about a quarter of pglz's time for the same size
(bench/HISTORY.md#identity-outbox-compression). A server built without lz4 keeps pglz (the DO block
swallows only that refusal).

Revision ID: i0002
Revises: i0001
Create Date: 2026-11-29
"""
from alembic import op

revision = "i0002"
down_revision = "i0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    do $$
    begin
        alter table outbox alter column body set compression lz4;
    exception when feature_not_supported then
        raise notice 'lz4 is not available on this server: outbox bodies stay pglz-compressed';
    end $$;
    """)


def downgrade() -> None:
    op.execute("alter table outbox alter column body set compression default")
