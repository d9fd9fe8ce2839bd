"""Cheaper writes on the events path: sessions leave room for HOT updates; a narrower session index.

A batch extends most of the sessions it touches (new end, event count). With full pages every such
update wrote a new tuple elsewhere and an entry in each of the three session indexes; with a
fill factor of 80 it usually stays on its page (a HOT update: no index entry), since start and ids
rarely change. `events_session` carried (time, event_id) only to spare a sort of one session's few
events; two text columns fewer per index entry make every event insert cheaper
(bench/sessions_consumer.py).

Revision ID: s0004
Revises: s0003
Create Date: 2026-11-29
"""
from alembic import op

revision = "s0004"
down_revision = "s0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("alter table sessions set (fillfactor = 80)")
    op.execute("drop index events_session")
    op.execute("create index events_session on events (env_id, session_id)")


def downgrade() -> None:
    op.execute("drop index events_session")
    op.execute("create index events_session on events (env_id, session_id, time, event_id)")
    op.execute("alter table sessions reset (fillfactor)")
