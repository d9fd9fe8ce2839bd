"""gateway control plane: API tokens get a public id, an expiry, their last use and their creator

Revision ID: gw0002
Revises: gw0001
Create Date: 2025-06-01
"""
import sqlalchemy as sa
from alembic import op

revision = "gw0002"
down_revision = "gw0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing tokens are numbered in the order they were made.
    op.add_column("api_tokens", sa.Column("id", sa.BigInteger, sa.Identity(), nullable=False))
    op.create_unique_constraint("api_tokens_id_key", "api_tokens", ["id"])
    op.add_column("api_tokens", sa.Column("created_by", sa.String(254)))
    op.add_column("api_tokens", sa.Column("expires_at", sa.DateTime(timezone=True)))
    op.add_column("api_tokens", sa.Column("last_used_at", sa.DateTime(timezone=True)))
    op.create_index("api_tokens_env_id", "api_tokens", ["env_id", "id"])


def downgrade() -> None:
    op.drop_index("api_tokens_env_id", "api_tokens")
    for column in ("last_used_at", "expires_at", "created_by"):
        op.drop_column("api_tokens", column)
    op.drop_constraint("api_tokens_id_key", "api_tokens")
    op.drop_column("api_tokens", "id")
