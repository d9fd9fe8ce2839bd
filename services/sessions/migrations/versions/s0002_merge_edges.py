"""The merge map keeps each user's chosen merge (the direct edge) beside its final survivor.

Identity may send a second `user.merged` for the same user with another target (a late identify);
the earliest (at, into_user_id) wins, so the edge is needed to re-resolve chains when it changes.

Revision ID: s0002
Revises: s0001
Create Date: 2024-05-02
"""
from alembic import op

revision = "s0002"
down_revision = "s0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    alter table merges add column direct_into_user_id text;
    update merges set direct_into_user_id = into_user_id;  -- before s0002 chains were compressed
    alter table merges alter column direct_into_user_id set not null;
    create index merges_direct_into on merges (env_id, direct_into_user_id);
    """)


def downgrade() -> None:
    op.execute("drop index merges_direct_into; alter table merges drop column direct_into_user_id")
