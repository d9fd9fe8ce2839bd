"""replay index: events per session, for the per-session events quota

Revision ID: rp0002
Revises: rp0001
Create Date: 2025-06-01
"""
import sqlalchemy as sa
from alembic import op

revision = "rp0002"
down_revision = "rp0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("sessions", sa.Column("event_count", sa.BigInteger, nullable=False, server_default="0"))
    # Sessions recorded before the column existed: their chunks already say how many events.
    op.execute("update replay.sessions s set event_count = c.events from "
               "(select env_id, session_id, sum(event_count) as events from replay.chunks "
               "group by env_id, session_id) c where c.env_id = s.env_id and c.session_id = s.session_id")


def downgrade() -> None:
    op.drop_column("sessions", "event_count")
