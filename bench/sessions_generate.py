"""Generate a sessions environment straight into PostgreSQL (generate_series, no queue).

    .venv/bin/python -m bench.sessions_generate --users 200000 [--sessions-per-user 5]
        [--events-per-session 5] [--database ff_bench]

Defaults give the issue's environment: 200,000 users, 1,000,000 sessions, 5,000,000 events, over
the past 30 days, in env `bench` of database `ff_bench` (created and migrated; emptied first).
Indexes are dropped during the load and rebuilt after it, which is how a bulk load is done.
"""
from __future__ import annotations

import argparse
import time

from sqlalchemy import text

from footfall import db
from footfall.config import get_settings
from services.sessions.tables import SCHEMA
from tests.support import migrate_fresh

ENV = "bench"
TABLES = ("events", "sessions", "users")

SESSIONS = """
insert into sessions (env_id, session_id, anon_user_id, source, client, start, "end",
                      event_count, first_event_id, props, has_replay)
select cast(:env as text), session_key(cast(:env as text), u::text, 'b' || (u * :spu + k) || '-0'), u::text,
       case when u % 4 = 0 then 'ios' else 'web' end, false, st, st + (:eps - 1) * interval '2 min',
       :eps, 'b' || (u * :spu + k) || '-0',
       jsonb_build_object('source', case when u % 4 = 0 then 'iOS' else 'Web' end,
           'platform', case when u % 4 = 0 then 'iOS' else 'Mac OS X' end, 'browser', 'Chrome',
           'device_type', case when u % 4 = 0 then 'Mobile' else 'Desktop' end,
           'landing_page', 'https://shop.test/', 'referrer', 'https://google.com/', 'country', 'FR',
           'utm_source', 'news', 'utm_medium', null, 'utm_campaign', null, 'utm_term', null,
           'utm_content', null),
       k = 0 and u % 10 = 0
from generate_series(1, :users) as u, generate_series(0, :spu - 1) as k,
     lateral (select now() - (random() * 30 + 0.01) * interval '1 day' + (u * 0 + k * 0) * interval '1 s' as st) t
"""

# Event j of a session: a pageview, then clicks on the buy button or a custom "Add to cart" with a
# plan property; one click in 50 carries coupon=SPRING (what the filtered benchmark looks for).
EVENTS = """
insert into events (env_id, event_id, kind, name, page_path, page_domain, target_text, hierarchy,
                    properties, time, received_at, anon_user_id, device_id, identity, source,
                    client_session_id, session_id, data)
select cast(:env as text), ev.id, ev.kind, ev.name, '/p' || (j % 7), 'shop.test',
       case when ev.kind = 'click' then 'Buy now' end, ev.hierarchy, ev.props,
       s.start + j * interval '2 min', s.start + j * interval '2 min', s.anon_user_id,
       'dev-' || s.anon_user_id, null, s.source, null, s.session_id,
       jsonb_build_object('event_id', ev.id, 'env_id', cast(:env as text), 'kind', ev.kind, 'name', ev.name,
           'source', s.source, 'user_id', s.anon_user_id, 'device_id', 'dev-' || s.anon_user_id,
           'page', jsonb_build_object('url', 'https://shop.test/p' || (j % 7), 'path', '/p' || (j % 7),
                                      'domain', 'shop.test'),
           'target', case when ev.kind = 'click' then jsonb_build_object('hierarchy', ev.hierarchy,
                                                                         'text', 'Buy now') end,
           'device', jsonb_build_object('browser', 'Chrome', 'os', 'Mac OS X'),
           'geo', jsonb_build_object('country', 'FR'), 'properties', ev.props)
from sessions s, generate_series(0, :eps - 1) as j,
     lateral (select split_part(s.first_event_id, '-', 1) || '-' || j as id,
                     case when j = 0 then 'pageview' when j % 2 = 1 then 'click' else 'custom' end as kind,
                     case when j > 0 and j % 2 = 0 then 'Add to cart' end as name,
                     case when j % 2 = 1 then '[{"tag": "button", "id": "buy", "classes": ["btn"]},
                                               {"tag": "div", "classes": ["header"]}]'::jsonb
                          else '[]'::jsonb end as hierarchy,
                     case when j % 2 = 1 and hashtext(s.session_id || j) % 50 = 0
                          then jsonb_build_object('plan', 'pro', 'coupon', 'SPRING')
                          else jsonb_build_object('plan', (array['free', 'pro', 'team'])[1 + j % 3],
                                                  'cart_value', j * 10) end as props) ev
where s.env_id = cast(:env as text)
"""

ANON_USERS = """
insert into anon_users (env_id, anon_user_id, first_seen, last_seen, session_count)
select cast(:env as text), anon_user_id, min(start), max("end"), count(*)
from sessions where env_id = :env group by anon_user_id
"""

USERS = """
insert into users (env_id, user_id, identity, properties, version, first_seen, last_seen, session_count)
select cast(:env as text), anon_user_id,
       case when anon_user_id::bigint % 3 = 0 then 'user' || anon_user_id || '@shop.test' end,
       jsonb_build_object('plan', (array['free', 'pro', 'team'])[1 + anon_user_id::bigint % 3],
                          'age', 18 + anon_user_id::bigint % 50,
                          'name', (array['Ada', 'Grace', 'Alan', 'Linus', 'Barbara', 'Edsger'])
                                      [1 + anon_user_id::bigint % 6]
                                  || ' ' || (array['Lovelace', 'Hopper', 'Turing', 'Torvalds', 'Liskov'])
                                      [1 + anon_user_id::bigint / 6 % 5]
                                  || ' ' || anon_user_id)
       || case when anon_user_id::bigint % 3 = 0
               then jsonb_build_object('email', 'user' || anon_user_id || '@shop.test')
               else '{}'::jsonb end,
       1, min(start), max("end"), count(*)
from sessions where env_id = :env group by anon_user_id
"""


def generate(users: int, spu: int, eps: int, settings) -> None:
    params = {"env": ENV, "users": users, "spu": spu, "eps": eps}
    engine = db.make_engine(SCHEMA, settings)
    with engine.begin() as conn:
        indexes = conn.execute(text(
            "select indexname, indexdef from pg_indexes where schemaname = :s and tablename = any(:t) "
            "and indexname not like '%pkey'"), {"s": SCHEMA, "t": list(TABLES)}).all()
        for name, _ in indexes:
            conn.execute(text(f"drop index {name}"))
    for label, sql in (("sessions", SESSIONS), ("events", EVENTS), ("anon_users", ANON_USERS), ("users", USERS)):
        started = time.perf_counter()
        with engine.begin() as conn:
            conn.execute(text("set local synchronous_commit = off"))
            count = conn.execute(text(sql), params).rowcount
        print(f"{label:9} {count:>10,} rows in {time.perf_counter() - started:6.1f} s", flush=True)
    started = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(text("set local maintenance_work_mem = '512MB'"))
        for _, definition in indexes:
            conn.execute(text(definition))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("vacuum analyze events, sessions, users"))
    print(f"indexes + analyze in {time.perf_counter() - started:6.1f} s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=200_000)
    parser.add_argument("--sessions-per-user", type=int, default=5)
    parser.add_argument("--events-per-session", type=int, default=5)
    parser.add_argument("--database", default="ff_bench")
    args = parser.parse_args()
    base = get_settings()
    url = base.database_url.rsplit("/", 1)[0] + "/" + args.database
    settings = base.with_(database_url=url)
    db.ensure_database(settings)
    migrate_fresh("services/sessions", settings)
    started = time.perf_counter()
    generate(args.users, args.sessions_per_user, args.events_per_session, settings)
    print(f"generated {args.users:,} users in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
