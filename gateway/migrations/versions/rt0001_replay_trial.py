"""replay trial: per-environment replay plan and trial counters, one row per admitted session

Revision ID: rt0001
Revises:
Create Date: 2025-01-01
"""
import sqlalchemy as sa
from alembic import op

revision = "rt0001"
down_revision = None
branch_labels = ("replay_trial",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "replay_plans",
        sa.Column("env_id", sa.String(64), primary_key=True),
        sa.Column("plan", sa.String(16), nullable=False, server_default="trial"),
        sa.Column("trial_started_at", sa.DateTime(timezone=True)),
        sa.Column("trial_used", sa.Integer, nullable=False, server_default="0"),
        sa.Column("trial_limit", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.text("now()")),
        sa.CheckConstraint("plan in ('trial', 'paid', 'off')", name="replay_plans_plan_known"),
        sa.CheckConstraint("trial_used <= trial_limit", name="replay_plans_trial_within_limit"),
    )
    op.create_table(
        "replay_admissions",
        sa.Column("env_id", sa.String(64), primary_key=True),
        sa.Column("session_id", sa.String(128), primary_key=True),
        sa.Column("device_id", sa.String(256), nullable=False),
        sa.Column("counted", sa.Boolean, nullable=False),
        sa.Column("admitted_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("replay_admissions")
    op.drop_table("replay_plans")
