"""gateway privacy: the audit of user deletions, and per-environment data settings

Revision ID: gw0100
Revises: gw0001
Create Date: 2026-12-07
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "gw0100"
down_revision = "gw0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "deletions",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("env_id", sa.String(64), sa.ForeignKey("environments.id", ondelete="CASCADE"), nullable=False),
        sa.Column("requested_by", sa.String(200), nullable=False),  # "account:<id>" or "token:<name>"
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_ids", JSONB, nullable=False),  # Footfall user ids only: no identity is kept
        sa.Column("idempotency_key", sa.String(200)),
        sa.Column("published_at", sa.DateTime(timezone=True)),  # null until the broker confirmed
        sa.UniqueConstraint("env_id", "idempotency_key", name="deletions_idempotency_key"),
    )
    op.create_index("deletions_recent", "deletions", ["env_id", sa.text("requested_at desc")])
    op.create_table(
        "environment_settings",
        sa.Column("env_id", sa.String(64), sa.ForeignKey("environments.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("settings", JSONB, nullable=False),  # footfall.messages.EnvironmentSettings
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.text("now()")),
    )


def downgrade() -> None:
    op.drop_table("environment_settings")
    op.drop_index("deletions_recent", "deletions")
    op.drop_table("deletions")
