"""Selective feed filters: two narrow indexes that find the few events or sessions a filter names,
and the per-environment catalog (event names, property names, top values) the filter editor
completes from and the planner resolves text operators against.

- `events_label`: btree on the event's label (a click's text, a pageview's path, a custom event's
  name; lowercased, 200 characters), carrying kind, user and time so that a filter on a raw event
  reads few heap pages. One btree entry per event.
- `events_path`: btree on the page path (lowercased, 200 characters) of events other than
  pageviews (whose label is their path already), so that "any event on page X" starts from them.
- `events_props`: GIN (jsonb_path_ops, containment only) on custom properties, partial: events
  without properties (most autocaptured ones) add nothing.
- `sessions_props`: GIN (jsonb_path_ops) on the session's descriptive properties (source,
  referrer, UTMs, browser, OS, device type, country): written once per session, not per event, and
  HOT updates stay possible since the properties of a session never change once cut.
- `catalog_*`: kept by the events consumer after each batch commits, one upsert per distinct
  name, property or value of the batch (services/sessions/catalog.py).

Revision ID: s0300
Revises: s0200
Create Date: 2026-12-06
"""
from alembic import op

revision = "s0300"
down_revision = "s0200"
branch_labels = None
depends_on = None

# The label expression: filters.EVENT_LABEL builds the same one (the planner only uses the index
# when the expressions are identical).
LABEL = """left(lower(case when kind in ('click', 'change', 'submit') then target_text
                           when kind = 'pageview' then page_path else name end), 200) collate "C\""""


def upgrade() -> None:
    op.execute(f"""
    create index events_label on events (env_id, ({LABEL})) include (kind, anon_user_id, time);
    create index events_path on events (env_id, (left(lower(page_path), 200) collate "C"))
        where kind <> 'pageview' and page_path is not null;
    create index events_props on events using gin (properties jsonb_path_ops)
        where properties <> '{{}}'::jsonb;
    create index sessions_props on sessions using gin (props jsonb_path_ops);

    create table catalog_events (
        env_id text collate "C" not null,
        kind text collate "C" not null,
        label text collate "C" not null,      -- see events_label, but in its own case
        count bigint not null,
        last_seen timestamptz not null,
        primary key (env_id, kind, label)
    );
    create table catalog_properties (
        env_id text collate "C" not null,
        kind text collate "C" not null,
        property text collate "C" not null,   -- `$path`, `$browser`… for autocaptured ones
        count bigint not null,
        last_seen timestamptz not null,
        primary key (env_id, kind, property)
    );
    create table catalog_values (
        env_id text collate "C" not null,
        property text collate "C" not null,
        value jsonb not null,                 -- a JSON scalar, as stored
        count bigint not null,
        last_seen timestamptz not null,
        primary key (env_id, property, value)
    );
    create index catalog_values_top on catalog_values (env_id, property, count desc);
    -- Names whose values (or an event kind's labels) outgrew the catalog's bound: only the top
    -- ones are kept, so the catalog no longer lists every value (`$event:<kind>` for labels).
    create table catalog_truncated (
        env_id text collate "C" not null,
        property text collate "C" not null,
        primary key (env_id, property)
    );
    """)


def downgrade() -> None:
    op.execute("""
    drop table catalog_events, catalog_properties, catalog_values, catalog_truncated;
    drop index events_label, events_path, events_props, sessions_props;
    """)
