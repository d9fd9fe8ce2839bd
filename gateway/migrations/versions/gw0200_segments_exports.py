"""gateway segments and feed exports: named feed views, and CSV export jobs with their progress

Revision ID: gw0200
Revises: gw0100
Create Date: 2026-12-06
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "gw0200"
down_revision = "gw0100"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "segments",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("env_id", sa.String(64), sa.ForeignKey("environments.id", ondelete="CASCADE"), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("view", JSONB, nullable=False),  # gateway.feed_view.as_json: timeline, zone, filters, q
        sa.Column("created_by", sa.String(254), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.text("now()")),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.text("now()")),
    )
    # Names are unique per environment whatever their case: "Churned" and "churned" would confuse.
    op.create_index("segments_name", "segments", ["env_id", sa.text("lower(name)")], unique=True)
    op.create_table(
        "exports",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("env_id", sa.String(64), sa.ForeignKey("environments.id", ondelete="CASCADE"), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),  # running, done, failed
        sa.Column("request", JSONB, nullable=False),  # view, columns, properties, window read at start
        sa.Column("rows_total", sa.BigInteger, nullable=False),
        sa.Column("rows_done", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("bytes", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("object_key", sa.String(300), nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("created_by", sa.String(254), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),  # the job's heartbeat
        sa.Column("finished_at", sa.DateTime(timezone=True)),
    )
    op.create_index("exports_recent", "exports", ["env_id", sa.text("created_at desc")])


def downgrade() -> None:
    op.drop_index("exports_recent", "exports")
    op.drop_table("exports")
    op.drop_index("segments_name", "segments")
    op.drop_table("segments")
