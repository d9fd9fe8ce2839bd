"""Search of the feed's users: their searchable text as a stored column, indexed with pg_trgm.

`search_text` is identity, the `email` and `name` properties and the user id, lowercased and joined
by spaces (services/sessions/search.py). Stored rather than an expression index because a query of
two characters has no trigram to look up: it reads every row of the window, and reading a stored
column costs about a third of computing the expression from the JSON per row (35 ms against
110 ms at 200,000 users, bench/search.py). Its inputs change only with identity's snapshots; the
events path's updates of activity recompute it to the same value (see docs/search-segments-export.md
for what that costs).

The ALTER rewrites the users table (one row per user: seconds at millions of users).

Revision ID: s0200
Revises: s0100
Create Date: 2026-12-06
"""
from alembic import op

revision = "s0200"
down_revision = "s0100"
branch_labels = None
depends_on = None

# user_id has the "C" collation: taken to the default one so that lower() sees a single collation.
SEARCH_TEXT = ("lower(coalesce(identity, '') || ' ' || coalesce(properties ->> 'email', '') || ' ' "
               "|| coalesce(properties ->> 'name', '') || ' ' || (user_id collate \"default\"))")


def upgrade() -> None:
    op.execute("create extension if not exists pg_trgm with schema public")
    op.execute(f"alter table users add column search_text text generated always as ({SEARCH_TEXT}) stored")
    op.execute("create index users_search on users using gin (search_text public.gin_trgm_ops)")


def downgrade() -> None:
    op.execute("drop index users_search")
    op.execute("alter table users drop column search_text")
