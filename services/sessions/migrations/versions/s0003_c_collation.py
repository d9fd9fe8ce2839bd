"""Ids compare bytewise: the id columns take the "C" collation.

The database's C.UTF-8 already orders by code point, so no order changes, but PostgreSQL only
takes its memcmp fast path (and abbreviated sort keys) for "C": index inserts and the sorts of the
events path cost less (bench/sessions_consumer.py).

Revision ID: s0003
Revises: s0002
Create Date: 2024-05-03
"""
from alembic import op

revision = "s0003"
down_revision = "s0002"
branch_labels = None
depends_on = None

ID_COLUMNS = {
    "events": ("env_id", "event_id", "user_id", "anon_user_id", "session_id", "client_session_id"),
    "sessions": ("env_id", "session_id", "user_id", "anon_user_id", "source", "first_event_id"),
    "users": ("env_id", "user_id"),
    "merges": ("env_id", "from_user_id", "into_user_id", "direct_into_user_id"),
    "replays": ("env_id", "session_id"),
}


def _collate(collation: str) -> None:
    for table, columns in ID_COLUMNS.items():
        changes = ", ".join(f'alter column {c} type text collate "{collation}"' for c in columns)
        op.execute(f"alter table {table} {changes}")


def upgrade() -> None:
    _collate("C")


def downgrade() -> None:
    _collate("default")
