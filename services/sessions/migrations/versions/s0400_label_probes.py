"""Selective filters, per user: `events_label` keyed by user and time after the label.

s0300's `events_label` (env_id, label) carried kind, user and time as payload: it finds a label's
events, but a per-user probe ("did this user click Start free trial since Monday?", what the feed
asks of each user it walks when a filter is common) could not seek in it, and went through
`events_anon_time` reading each of the user's events from the heap (about 1 ms a user, cold).
With (env_id, label, kind, anon_user_id, time) as the key the same probe is one descent of this
index, from the index alone; the label's scans are unchanged (same entries, same size: one per
event, so the write path pays what it paid).

Revision ID: s0400
Revises: s0300
Create Date: 2026-12-06
"""
from alembic import op

revision = "s0400"
down_revision = "s0300"
branch_labels = None
depends_on = None

# The expression of s0300 (filters.event_label builds the same one).
LABEL = """left(lower(case when kind in ('click', 'change', 'submit') then target_text
                           when kind = 'pageview' then page_path else name end), 200) collate "C\""""


def upgrade() -> None:
    op.execute(f"""
    drop index events_label;
    create index events_label on events (env_id, ({LABEL}), kind, anon_user_id, time);
    """)


def downgrade() -> None:
    op.execute(f"""
    drop index events_label;
    create index events_label on events (env_id, ({LABEL})) include (kind, anon_user_id, time);
    """)
