"""What the search column and its trigram index cost the events path's update of feed rows.

    .venv/bin/python -m bench.search_write_cost --database ff_bench [--rows 20000] [--batch 500]

The events path moves a user's feed row (first_seen, last_seen, session_count) with one
INSERT … ON CONFLICT DO UPDATE per batch (events_path.UPSERT_SESSIONS_AND_ROLL_UP). last_seen is
in the feed index, so those updates are not HOT: every index of the table gets an entry, the
trigram one too, and PostgreSQL recomputes the stored search_text. This copies the generated
environment's users (bench/sessions_generate.py: identities, emails, names) into two scratch
tables, one as the users table was before migration s0200 and one as it is after, and runs the
roll-up's statement on both, alternating batches, adding up the backend's CPU time (/proc, as
bench/events_path_steps.py does). The scratch schema is dropped at the end.
"""
from __future__ import annotations

import argparse
import random

from sqlalchemy import text

from bench.events_path_steps import backend_cpu
from footfall import db
from footfall.config import get_settings

SEARCH_TEXT = ("lower(coalesce(identity, '') || ' ' || coalesce(properties ->> 'email', '') || ' ' "
               "|| coalesce(properties ->> 'name', '') || ' ' || (user_id collate \"default\"))")
TABLE = """create table search_cost.{name} (
    env_id text collate "C", user_id text collate "C", identity text, properties jsonb, version bigint,
    first_seen timestamptz, last_seen timestamptz, session_count integer, primary key (env_id, user_id))"""
ROLL_UP = """
    insert into search_cost.{name} as u (env_id, user_id, first_seen, last_seen, session_count)
    select 'bench', id, now(), now(), 1 from unnest(cast(:ids as text[])) as id order by id
    on conflict (env_id, user_id) do update set
        first_seen = least(u.first_seen, excluded.first_seen),
        last_seen = greatest(u.last_seen, excluded.last_seen),
        session_count = u.session_count + excluded.session_count
"""


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.search_write_cost")
    parser.add_argument("--database", default="ff_bench")
    parser.add_argument("--rows", type=int, default=20_000, help="feed row updates per table")
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()
    base = get_settings()
    settings = base.with_(database_url=base.database_url.rsplit("/", 1)[0] + "/" + args.database)
    engine = db.make_engine("sessions", settings, pool_size=1)
    with engine.begin() as conn:
        conn.execute(text("drop schema if exists search_cost cascade; create schema search_cost"))
        for name in ("before", "after"):
            conn.execute(text(TABLE.format(name=name)))
            conn.execute(text(f"""insert into search_cost.{name} select env_id, user_id, identity, properties,
                                  version, first_seen, last_seen, session_count from sessions.users"""))
            conn.execute(text(f"create index on search_cost.{name} (env_id, last_seen desc, user_id desc) "
                              "where last_seen is not null"))
        conn.execute(text(f"alter table search_cost.after add column search_text text generated always as "
                          f"({SEARCH_TEXT}) stored"))
        conn.execute(text("create index on search_cost.after using gin (search_text public.gin_trgm_ops)"))
        ids = conn.execute(text("select user_id from sessions.users")).scalars().all()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("vacuum analyze search_cost.before, search_cost.after"))
    rng, cpu = random.Random(19), {"before": 0.0, "after": 0.0}
    with engine.connect() as conn:
        pid = conn.execute(text("select pg_backend_pid()")).scalar()
        for _ in range(args.rows // args.batch):
            batch = rng.sample(ids, args.batch)
            for name in ("before", "after") if rng.random() < 0.5 else ("after", "before"):
                started = backend_cpu(pid)
                conn.execute(text(ROLL_UP.format(name=name)), {"ids": batch})
                conn.commit()
                cpu[name] += backend_cpu(pid) - started
    with engine.begin() as conn:
        conn.execute(text("drop schema search_cost cascade"))
    per_row = {k: v * 1e6 / (args.rows // args.batch * args.batch) for k, v in cpu.items()}
    print(f"feed row updates ({args.rows:,} per table, batches of {args.batch}), PostgreSQL CPU per row: "
          f"without search {per_row['before']:.1f} µs, with search_text + trigram index "
          f"{per_row['after']:.1f} µs (+{per_row['after'] - per_row['before']:.1f} µs)")


if __name__ == "__main__":
    main()
