"""Generate a sessions environment straight into PostgreSQL (generate_series, no queue).

    .venv/bin/python -m bench.sessions_generate --users 200000 [--sessions-per-user 5]
        [--events-per-session 5] [--database ff_bench]

Defaults give the issue's environment: 200,000 users, 1,000,000 sessions, 5,000,000 events, over
the past 30 days, in env `bench` of database `ff_bench` (created and migrated; emptied first).
Indexes are dropped during the load and rebuilt after it, which is how a bulk load is done; the
catalog is then recounted from the events.

Selectivity tiers (bench/filters.py filters on them): user u's tier is `rare` when u % 1000 = 1
(0.1% of users), `few` when u % 100 = 2 (1%), `some` when u % 10 = 3 (10%), else `common`. Each
user's sessions come from a browser, country and campaign of its tier (Opera, Edge, Firefox,
Chrome; JP, DE, ES, FR; camp-<tier>), land on `/landing/<tier>`, click "Start <tier>" with a
coupon <TIER>, and send "Signup <tier>"; its user properties carry `tier`.
"""
from __future__ import annotations

import argparse
import time

from sqlalchemy import text

from footfall import db
from footfall.config import get_settings
from services.sessions import catalog
from services.sessions.tables import SCHEMA
from tests.support import migrate_fresh

ENV = "bench"
TABLES = ("events", "sessions", "users")
TIER = ("case when {u} % 1000 = 1 then 'rare' when {u} % 100 = 2 then 'few' when {u} % 10 = 3 then 'some' "
        "else 'common' end")


def _by_tier(u: str, rare: str, few: str, some: str, common: str) -> str:
    return (f"case when {u} % 1000 = 1 then '{rare}' when {u} % 100 = 2 then '{few}' "
            f"when {u} % 10 = 3 then '{some}' else '{common}' end")

SESSIONS = f"""
insert into sessions (env_id, session_id, anon_user_id, source, client, start, "end",
                      event_count, first_event_id, props, has_replay)
select cast(:env as text), session_key(cast(:env as text), u::text, 'b' || (u * :spu + k) || '-0'), u::text,
       case when u % 4 = 0 then 'ios' else 'web' end, false, st, st + (:eps - 1) * interval '2 min',
       :eps, 'b' || (u * :spu + k) || '-0',
       jsonb_build_object('source', case when u % 4 = 0 then 'iOS' else 'Web' end,
           'platform', case when u % 4 = 0 then 'iOS' else 'Mac OS X' end,
           'browser', {_by_tier('u', 'Opera', 'Edge', 'Firefox', 'Chrome')},
           'device_type', case when u % 4 = 0 then 'Mobile' else 'Desktop' end,
           'landing_page', 'https://shop.test/landing/' || {TIER.format(u='u')},
           'referrer', 'https://google.com/', 'country', {_by_tier('u', 'JP', 'DE', 'ES', 'FR')},
           'utm_source', 'news', 'utm_medium', null, 'utm_campaign', 'camp-' || {TIER.format(u='u')},
           'utm_term', null, 'utm_content', null),
       k = 0 and u % 10 = 0
from generate_series(1, :users) as u, generate_series(0, :spu - 1) as k,
     lateral (select now() - (random() * 30 + 0.01) * interval '1 day' + (u * 0 + k * 0) * interval '1 s' as st) t
"""

# Event j of a session: a pageview of /landing/<tier>, then clicks on the buy button (j = 1) or on
# "Start <tier>" with coupon <TIER> (j = 3), and custom events "Add to cart" (j = 2) or
# "Signup <tier>" (j = 4), with a plan property; one click in 50 carries coupon=SPRING.
EVENTS = f"""
insert into events (env_id, event_id, kind, name, page_path, page_domain, target_text, hierarchy,
                    properties, time, received_at, anon_user_id, device_id, identity, source,
                    client_session_id, session_id, data)
select cast(:env as text), ev.id, ev.kind, ev.name, ev.path, 'shop.test',
       ev.text, ev.hierarchy, ev.props,
       s.start + j * interval '2 min', s.start + j * interval '2 min', s.anon_user_id,
       'dev-' || s.anon_user_id, null, s.source, null, s.session_id,
       jsonb_build_object('event_id', ev.id, 'env_id', cast(:env as text), 'kind', ev.kind, 'name', ev.name,
           'source', s.source, 'user_id', s.anon_user_id, 'device_id', 'dev-' || s.anon_user_id,
           'page', jsonb_build_object('url', 'https://shop.test' || ev.path, 'path', ev.path,
                                      'domain', 'shop.test'),
           'target', case when ev.kind = 'click' then jsonb_build_object('hierarchy', ev.hierarchy,
                                                                         'text', ev.text) end,
           'device', jsonb_build_object('browser', 'Chrome', 'os', 'Mac OS X'),
           'geo', jsonb_build_object('country', 'FR'), 'properties', ev.props)
from sessions s, generate_series(0, :eps - 1) as j,
     lateral (select {TIER.format(u='s.anon_user_id::bigint')} as tier) t,
     lateral (select split_part(s.first_event_id, '-', 1) || '-' || j as id,
                     case when j = 0 then 'pageview' when j % 2 = 1 then 'click' else 'custom' end as kind,
                     case when j = 2 then 'Add to cart' when j = 4 then 'Signup ' || t.tier end as name,
                     case when j = 0 then '/landing/' || t.tier else '/p' || (j % 7) end as path,
                     case when j = 1 then 'Buy now' when j % 2 = 1 then 'Start ' || t.tier end as text,
                     case when j % 2 = 1 then '[{{"tag": "button", "id": "buy", "classes": ["btn"]}},
                                               {{"tag": "div", "classes": ["header"]}}]'::jsonb
                          else '[]'::jsonb end as hierarchy,
                     case when j % 2 = 1 and hashtext(s.session_id || j) % 50 = 0
                          then jsonb_build_object('plan', 'pro', 'coupon', 'SPRING')
                          when j = 3 then jsonb_build_object('plan', 'pro', 'coupon', upper(t.tier))
                          else jsonb_build_object('plan', (array['free', 'pro', 'team'])[1 + j % 3],
                                                  'cart_value', j * 10) end as props) ev
where s.env_id = cast(:env as text)
"""

ANON_USERS = """
insert into anon_users (env_id, anon_user_id, first_seen, last_seen, session_count)
select cast(:env as text), anon_user_id, min(start), max("end"), count(*)
from sessions where env_id = :env group by anon_user_id
"""

USERS = f"""
insert into users (env_id, user_id, identity, properties, version, first_seen, last_seen, session_count)
select cast(:env as text), anon_user_id,
       case when anon_user_id::bigint % 3 = 0 then 'user' || anon_user_id || '@shop.test' end,
       jsonb_build_object('plan', (array['free', 'pro', 'team'])[1 + anon_user_id::bigint % 3],
                          'age', 18 + anon_user_id::bigint % 50,
                          'name', (array['Ada', 'Grace', 'Alan', 'Linus', 'Barbara', 'Edsger'])
                                      [1 + anon_user_id::bigint % 6]
                                  || ' ' || (array['Lovelace', 'Hopper', 'Turing', 'Torvalds', 'Liskov'])
                                      [1 + anon_user_id::bigint / 6 % 5]
                                  || ' ' || anon_user_id,
                          'tier', {TIER.format(u='anon_user_id::bigint')})
       || case when anon_user_id::bigint % 3 = 0
               then jsonb_build_object('email', 'user' || anon_user_id || '@shop.test')
               else '{{}}'::jsonb end,
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
    started = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(text("set local work_mem = '256MB'"))
        catalog.rebuild(conn, ENV)
    print(f"catalog in {time.perf_counter() - started:6.1f} s", flush=True)


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
